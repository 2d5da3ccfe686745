"""Input checks shared by the estimators; each error names the argument, what was expected and what came."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral
from typing import Any

import numpy as np
import torch
from scipy.sparse import issparse
from sklearn.utils import check_array

from xsup.spec import KIND_BY_NDIM, SAMPLE_LAYOUT, InputSpec

__all__ = [
    "check_annotation",
    "check_consistent_samples",
    "check_input",
    "check_matches_training",
    "check_param_distributions",
    "check_sample_weight",
    "check_target_per_sample",
    "check_tune_arguments",
]

#: Rows checked at a time, so that a memory-mapped array is never read whole.
CHUNK_ROWS = 4096


def _expected_ranks() -> str:
    return ", ".join(f"{ndim} ({kind.replace('_', ' ')} {SAMPLE_LAYOUT[kind]})"
                     for ndim, kind in KIND_BY_NDIM.items())


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _all_finite(array: Any, allow_nan: bool = False) -> bool:
    """Whether every value is finite (NaN allowed on request), reading chunks of rows."""
    for start in range(0, len(array), CHUNK_ROWS):
        chunk = array[start : start + CHUNK_ROWS]
        if isinstance(chunk, torch.Tensor):
            bad = torch.isinf(chunk) if allow_nan else ~torch.isfinite(chunk)
            if bool(bad.any()):
                return False
        else:
            chunk = np.asarray(chunk)
            bad = np.isinf(chunk) if allow_nan else ~np.isfinite(chunk)
            if bad.any():
                return False
    return True


def _is_lazy_array(array: Any) -> bool:
    """A memory map, or an array-like read by rows (``shape``, ``ndim``, ``dtype``, ``__getitem__``).

    Such arrays (``np.memmap``, HDF5 or zarr data sets, user wrappers) are
    checked chunk by chunk and passed on as they are: they may not fit in memory.
    """
    if isinstance(array, np.memmap):
        return True
    if isinstance(array, (np.ndarray, torch.Tensor)) or issparse(array):
        return False
    return all(hasattr(array, name) for name in ("shape", "ndim", "dtype", "__getitem__", "__len__"))


def _complex_error(dtype: Any) -> ValueError:
    # "Complex data not supported" is the phrase scikit-learn's estimator checks look for.
    return ValueError(f"X must hold real numbers; Complex data not supported (got dtype {dtype}).")


def _rank_error(shape: tuple[int, ...]) -> ValueError:
    message = f"X must have {_expected_ranks()} dimensions; got shape {shape}."
    if len(shape) < 2:
        message += (
            " Reshape your data: X.reshape(-1, 1) for a single feature, X.reshape(1, -1) "
            "for a single sample."
        )
    return ValueError(message)


def check_input(X: Any) -> Any:
    """Check ``X``: dense real numbers with 2 to 5 dimensions, at least one sample, all finite.

    Numpy and memory-mapped float arrays and torch tensors are returned as
    they are (never copied whole); lists and integer arrays become float32
    arrays.

    Raises
    ------
    TypeError
        Sparse matrices, strings or other non-numeric values.
    ValueError
        Complex numbers, a ragged sequence, the wrong number of dimensions,
        no samples, NaN or infinity.

    Examples
    --------
    >>> check_input([[1, 2], [3, 4]]).dtype
    dtype('float32')
    >>> check_input([1.0, 2.0])
    Traceback (most recent call last):
    ...
    ValueError: X must have 2 (tabular (F,)), 3 (time series (T, F)), 4 (images (C, H, W)), 5 (raster sequences (T, C, H, W)) dimensions; got shape (2,). Reshape your data: X.reshape(-1, 1) for a single feature, X.reshape(1, -1) for a single sample.
    """
    if isinstance(X, torch.Tensor):
        if X.dtype.is_complex:
            raise _complex_error(X.dtype)
        if not (X.dtype.is_floating_point or X.dtype in (torch.int32, torch.int64, torch.bool)):
            raise TypeError(f"X must hold real numbers; got a tensor of dtype {X.dtype}.")
        if X.ndim not in KIND_BY_NDIM:
            raise _rank_error(tuple(X.shape))
        _check_not_empty(tuple(X.shape))
        if not X.dtype.is_floating_point:
            X = X.float()
        if not _all_finite(X):
            raise ValueError("Input X contains NaN or infinity; X must be finite.")
        return X
    if (
        (isinstance(X, np.ndarray) or _is_lazy_array(X))
        and np.dtype(X.dtype).kind == "f" and X.ndim in KIND_BY_NDIM
    ):
        _check_not_empty(tuple(X.shape))
        if not _all_finite(X):
            raise ValueError("Input X contains NaN or infinity; X must be finite.")
        return X
    if isinstance(X, np.ndarray) and X.dtype.kind == "c":
        raise _complex_error(X.dtype)
    try:
        X = check_array(
            X, allow_nd=True, ensure_2d=False, dtype=[np.float32, np.float64],
            ensure_all_finite=True, ensure_min_samples=0, ensure_min_features=0, input_name="X",
        )
    except TypeError as error:
        if "Sparse" in str(error) or "sparse" in str(error):
            raise
        raise TypeError(f"X must hold real numbers; got non-numeric values ({error}).") from error
    except ValueError as error:
        if "inhomogeneous" in str(error) or "setting an array element" in str(error):
            raise ValueError(
                "X must be a rectangular array; got a ragged sequence whose samples differ in shape."
            ) from error
        if "Complex data" in str(error):
            raise _complex_error("complex") from error
        if "could not convert" in str(error) or "dtype='numeric'" in str(error):
            raise TypeError(f"X must hold real numbers; got non-numeric values ({error}).") from error
        raise
    if X.ndim not in KIND_BY_NDIM:
        raise _rank_error(X.shape)
    _check_not_empty(X.shape)
    return X


def _check_not_empty(shape: tuple[int, ...]) -> None:
    # The "Found array with ..." sentences are those of scikit-learn's check_array.
    if shape[0] == 0:
        raise ValueError(
            f"X must have at least 1 sample: Found array with 0 sample(s) (shape={shape}) "
            "while a minimum of 1 is required."
        )
    if 0 in shape[1:]:
        raise ValueError(
            f"X must have at least 1 value on every sample axis: Found array with 0 feature(s) "
            f"(shape={shape}) while a minimum of 1 is required."
        )


def _n_samples(name: str, value: Any) -> int:
    if not hasattr(value, "shape") and hasattr(value, "__array__"):
        value = np.asarray(value)
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    if shape is None and hasattr(value, "__len__") and not isinstance(value, (str, bytes)):
        return len(value)
    raise TypeError(f"{name} must be array-like with one entry per sample; got {value!r}.")


def check_consistent_samples(X: Any, **arrays: Any) -> None:
    """Check that every array in ``arrays`` (None skipped) has as many samples as ``X``.

    Examples
    --------
    >>> check_consistent_samples([[0.0], [1.0]], y=[0, 1, 1])
    Traceback (most recent call last):
    ...
    ValueError: y has 3 samples but X has 2: X and y have inconsistent numbers of samples.
    """
    n_samples = _n_samples("X", X)
    for name, array in arrays.items():
        if array is None:
            continue
        count = _n_samples(name, array)
        if count != n_samples:
            raise ValueError(
                f"{name} has {count} samples but X has {n_samples}: X and {name} have "
                "inconsistent numbers of samples."
            )


def check_matches_training(X: Any, estimator: Any) -> None:
    """Check that ``X`` has the sample shape the estimator was fitted on."""
    spec: InputSpec = estimator.input_spec_
    name = type(estimator).__name__
    if spec.kind == "tabular" and X.ndim == 2 and X.shape[1] != spec.sample_shape[0]:
        raise ValueError(
            f"X has {X.shape[1]} features, but {name} is expecting {spec.sample_shape[0]} "
            "features as input."
        )
    if tuple(X.shape[1:]) != spec.sample_shape:
        raise ValueError(
            f"X has samples of shape {tuple(X.shape[1:])}, but {name} was fitted on "
            f"{spec.kind.replace('_', ' ')} with samples of shape {spec.sample_shape}."
        )


def check_annotation(E: Any, X: Any, spec: InputSpec) -> Any:
    """Check annotations against ``X``: shape, real numbers, values in [-1, 1] or NaN.

    Booleans and integers become float32 (memory maps and other lazily read
    arrays keep their dtype: batches are converted as they are read); float
    arrays, memory maps and tensors are returned as they are.

    Returns
    -------
    array-like or None
        The annotations, or None when ``E`` is None.
    """
    if E is None:
        return None
    expected = (X.shape[0],) + spec.annotation_shape
    if isinstance(E, torch.Tensor):
        if E.dtype.is_complex:
            raise TypeError(
                f"E must hold real numbers in [-1, 1] (or NaN for missing); got dtype {E.dtype}."
            )
        if E.dtype == torch.bool or not E.dtype.is_floating_point:
            E = E.float()
    else:
        lazy = _is_lazy_array(E)
        if not isinstance(E, np.ndarray) and not lazy:
            try:
                E = np.asarray(E)
            except ValueError as error:
                raise ValueError(
                    f"E must be a rectangular array of shape {expected}; got a ragged sequence."
                ) from error
        kind = np.dtype(E.dtype).kind
        if kind in "biu" and not lazy:  # a memory map is converted batch by batch instead
            E = E.astype(np.float32)
        elif kind not in "biuf":
            raise TypeError(
                f"E must hold numbers in [-1, 1] (or NaN for missing); got dtype {E.dtype}."
            )
    if tuple(E.shape) != expected:
        raise ValueError(
            f"E has shape {tuple(E.shape)} but X {tuple(X.shape)} implies {expected}: "
            f"one annotation {_annotation_unit(spec)}."
        )
    if not _all_finite(E, allow_nan=True):
        raise ValueError("E contains infinity; use NaN to mark missing annotations.")
    for start in range(0, len(E), CHUNK_ROWS):
        chunk = E[start : start + CHUNK_ROWS]
        chunk = chunk.detach().cpu().numpy() if isinstance(chunk, torch.Tensor) else np.asarray(chunk)
        if np.nanmin(chunk, initial=0.0) < -1 or np.nanmax(chunk, initial=0.0) > 1:
            raise ValueError(
                "E must lie in [-1, 1] (1 should matter, -1 should not, 0 unknown, NaN missing); "
                f"got values from {np.nanmin(chunk):g} to {np.nanmax(chunk):g}."
            )
    return E


def _annotation_unit(spec: InputSpec) -> str:
    return {
        "tabular": "value per feature",
        "time_series": "value per time step and feature",
        "images": "map of H x W per image (no channel axis)",
        "raster_sequences": "frame of H x W per time step (no channel axis)",
    }[spec.kind]


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """Check ``fit``'s sample weights: one finite non-negative number per sample, not all zero.

    Returns
    -------
    numpy.ndarray or None
        float32 weights, or None when ``sample_weight`` is None.

    Examples
    --------
    >>> check_sample_weight([1, 0, 2], 3)
    array([1., 0., 2.], dtype=float32)
    >>> check_sample_weight([1.0, -1.0], 2)
    Traceback (most recent call last):
    ...
    ValueError: sample_weight must be finite and non-negative; got values from -1 to 1.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, torch.Tensor):
        sample_weight = sample_weight.detach().cpu().numpy()
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"sample_weight must hold one number per sample; got {error}.") from None
    if weights.ndim != 1 or len(weights) != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per sample; got shape "
            f"{weights.shape}."
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(
            "sample_weight must be finite and non-negative; got values from "
            f"{np.nanmin(weights):g} to {np.nanmax(weights):g}."
        )
    if not (weights > 0).any():
        raise ValueError("sample_weight is zero for every sample: there is nothing to train on.")
    return weights.astype(np.float32)


def check_target_per_sample(target: Any, n_samples: int) -> np.ndarray:
    """``target`` (one value, or one per sample) as an array of ``n_samples`` values.

    Examples
    --------
    >>> check_target_per_sample(1, 3)
    array([1, 1, 1])
    >>> check_target_per_sample([0, 1], 3)
    Traceback (most recent call last):
    ...
    ValueError: target must be one value for all samples or one per sample (3); got shape (2,).
    """
    values = np.asarray(target)
    if values.ndim > 1 or (values.ndim == 1 and len(values) not in (1, n_samples)):
        raise ValueError(
            f"target must be one value for all samples or one per sample ({n_samples}); "
            f"got shape {values.shape}."
        )
    return np.broadcast_to(values.reshape(-1) if values.ndim else values, (n_samples,))


def check_param_distributions(space: Any, name: str = "param_distributions") -> None:
    """Check a search space: a mapping from parameter names (str) to distributions."""
    if not isinstance(space, Mapping):
        raise TypeError(
            f"{name} must be a dict mapping parameter names to Optuna distributions; got "
            f"{type(space).__name__}."
        )
    bad = [key for key in space if not isinstance(key, str)]
    if bad:
        raise TypeError(f"{name} must have parameter names (str) as keys; got {bad!r}.")


def check_tune_arguments(X: Any, y: Any, E: Any, param_distributions: Any, cv: Any) -> None:
    """Checks of :func:`xsup.tuning.tune` made before any study is created.

    ``X``, ``y`` and ``E`` must have as many samples (folds slice them with the
    same indices), ``param_distributions`` be None or a mapping, and an int
    ``cv`` at least 2.
    """
    check_consistent_samples(X, y=y, E=E)
    if param_distributions is not None:
        check_param_distributions(param_distributions)
    if _is_int(cv) and cv < 2:
        raise ValueError(f"cv must be at least 2 folds (or a CV splitter); got {cv!r}.")
