"""A fit's fingerprint: a short hash of its training data and hyperparameters.

It names the directory of a fit's checkpoints, so that a fit run again finds
its own and no other CV fold or tuning trial shares it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["fit_fingerprint"]

#: Estimator parameters that do not change what a fit computes, left out of its fingerprint.
_NOT_FINGERPRINTED = ("callbacks", "verbose", "max_epochs", "warm_start", "device")

#: Bytes of one array hashed in full; larger arrays are hashed on evenly spaced rows.
_HASHED_BYTES = 64 * 2**20


def _hash_array(digest: Any, value: Any) -> None:
    """Feed an array-like (numpy, memmap, torch, list) into ``digest`` without copying it whole."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    digest.update(f"{array.shape}|{array.dtype.str}|".encode())
    if array.dtype == object:
        digest.update(repr(array.tolist()).encode())
        return
    if array.ndim == 0 or array.nbytes <= _HASHED_BYTES:
        digest.update(np.ascontiguousarray(array).tobytes())
        return
    row_bytes = max(1, array.nbytes // len(array))
    n_rows = max(2, _HASHED_BYTES // row_bytes)
    rows = np.unique(np.linspace(0, len(array) - 1, n_rows).astype(int))
    for start in range(0, len(rows), 1024):
        digest.update(np.ascontiguousarray(array[rows[start : start + 1024]]).tobytes())


def _canonical(value: Any, depth: int = 0) -> str:
    """A text for a parameter value that is the same in every process (no memory addresses)."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return repr(value)
    if isinstance(value, np.generic):
        return repr(value.item())
    if depth > 4:
        return type(value).__qualname__
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(item, depth + 1) for item in value) + "]"
    if isinstance(value, Mapping):
        items = (f"{key!r}:{_canonical(value[key], depth + 1)}" for key in sorted(value, key=str))
        return "{" + ",".join(items) + "}"
    if isinstance(value, (np.ndarray, torch.Tensor)):
        digest = hashlib.blake2b(digest_size=8)
        _hash_array(digest, value)
        return digest.hexdigest()
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    name = f"{type(value).__module__}.{type(value).__qualname__}"
    if hasattr(value, "get_params") and not isinstance(value, torch.nn.Module):
        return name + _canonical(value.get_params(deep=False), depth + 1)
    text = repr(value)
    if " at 0x" not in text:
        return f"{name}:{text}"
    return name + _canonical(getattr(value, "__dict__", {}), depth + 1)


def fit_fingerprint(net: Any, X: Any, y: Any = None) -> str:
    """A short hash of a fit's training data and hyperparameters.

    Two fits share it only when they train on the same data with the same
    parameters (``callbacks``, ``verbose``, ``max_epochs``, ``warm_start`` and
    ``device`` aside), so it names a directory that a fit finds again when it
    is run anew, and that no other CV fold or tuning trial uses. Arrays up to
    64 MiB are hashed in full, larger ones on evenly spaced rows.

    Parameters
    ----------
    net : skorch net
        The estimator being fitted (its ``get_params(deep=False)`` is hashed).
    X, y : array-like, dict of arrays or None
        Training data as the net's callbacks receive it.

    Returns
    -------
    str
        16 hexadecimal digits.

    Examples
    --------
    >>> import numpy as np
    >>> from xsup import ExplanationSupervisedClassifier
    >>> net = ExplanationSupervisedClassifier(max_epochs=1)
    >>> X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    >>> fit_fingerprint(net, X, y) == fit_fingerprint(net.set_params(max_epochs=5), X, y)
    True
    >>> fit_fingerprint(net, X, y) == fit_fingerprint(net, X[:3], y[:3])
    False
    """
    digest = hashlib.blake2b(digest_size=8)
    params = {
        key: value for key, value in net.get_params(deep=False).items()
        if key.split("__")[0] not in _NOT_FINGERPRINTED
    }
    digest.update(f"{type(net).__module__}.{type(net).__qualname__}".encode())
    digest.update(_canonical(params).encode())
    for part in (X, y):
        items = sorted(part.items()) if isinstance(part, Mapping) else [("", part)]
        for key, value in items:
            digest.update(f"<{key}>".encode())
            if value is not None:
                _hash_array(digest, value)
    return digest.hexdigest()
