"""Input checks shared by the estimators; each error names the argument, what was expected and what came."""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_array

from xsup.spec import KIND_BY_NDIM, SAMPLE_LAYOUT, InputSpec

__all__ = [
    "check_annotation",
    "check_hyperparameters",
    "check_input",
    "check_matches_training",
]

#: Rows checked at a time, so that a memory-mapped array is never read whole.
CHUNK_ROWS = 4096


def _expected_ranks() -> str:
    return ", ".join(f"{ndim} ({kind.replace('_', ' ')} {SAMPLE_LAYOUT[kind]})"
                     for ndim, kind in KIND_BY_NDIM.items())


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


def check_input(X: Any) -> Any:
    """Check ``X``: dense numbers with 2 to 5 dimensions, at least one sample, all finite.

    Numpy and memory-mapped float arrays and torch tensors are returned as
    they are (never copied whole); lists and integer arrays become float32
    arrays.

    Raises
    ------
    TypeError
        Sparse matrices, strings or other non-numeric values.
    ValueError
        Wrong number of dimensions, no samples, NaN or infinity.
    """
    if isinstance(X, torch.Tensor):
        if not (X.dtype.is_floating_point or X.dtype in (torch.int32, torch.int64, torch.bool)):
            raise TypeError(f"X must hold real numbers; got a tensor of dtype {X.dtype}.")
        if X.ndim not in KIND_BY_NDIM:
            raise ValueError(
                f"X must have {_expected_ranks()} dimensions; got shape {tuple(X.shape)}."
            )
        _check_not_empty(tuple(X.shape))
        if not X.dtype.is_floating_point:
            X = X.float()
        if not _all_finite(X):
            raise ValueError("Input X contains NaN or infinity; X must be finite.")
        return X
    if isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.ndim in KIND_BY_NDIM:
        _check_not_empty(X.shape)
        if not _all_finite(X):
            raise ValueError("Input X contains NaN or infinity; X must be finite.")
        return X
    try:
        X = check_array(
            X, allow_nd=True, dtype=[np.float32, np.float64], ensure_all_finite=True,
            input_name="X",
        )
    except ValueError as error:
        if "inhomogeneous" in str(error) or "setting an array element" in str(error):
            raise ValueError(
                "X must be a rectangular array; got a ragged sequence whose samples differ in shape."
            ) from error
        if "could not convert" in str(error) or "dtype='numeric'" in str(error):
            raise TypeError(f"X must hold real numbers; got non-numeric values ({error}).") from error
        raise
    if X.ndim not in KIND_BY_NDIM:
        raise ValueError(f"X must have {_expected_ranks()} dimensions; got shape {X.shape}.")
    _check_not_empty(X.shape)
    return X


def _check_not_empty(shape: tuple[int, ...]) -> None:
    if shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is required.")
    if 0 in shape[1:]:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required: "
            "every sample axis of X must be non-empty."
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
    """Check annotations against ``X``: shape, numbers, values in [-1, 1] or NaN.

    Booleans and integers become float32; float arrays, memory maps and tensors
    are returned as they are.

    Returns
    -------
    array-like or None
        The annotations, or None when ``E`` is None.
    """
    if E is None:
        return None
    expected = (X.shape[0],) + spec.annotation_shape
    if isinstance(E, torch.Tensor):
        if E.dtype == torch.bool or not E.dtype.is_floating_point:
            E = E.float()
    else:
        if not isinstance(E, np.ndarray):
            try:
                E = np.asarray(E)
            except ValueError as error:
                raise ValueError(
                    f"E must be a rectangular array of shape {expected}; got a ragged sequence."
                ) from error
        if E.dtype.kind == "b" or E.dtype.kind in "iu":
            E = E.astype(np.float32)
        elif E.dtype.kind != "f":
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


def check_hyperparameters(estimator: Any) -> None:
    """Check the shared explanation hyperparameters of an estimator."""
    for name in ("sigma1", "sigma2", "alpha"):
        value = getattr(estimator, name)
        if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
            raise ValueError(f"{name} must be a non-negative number; got {value!r}.")
    k = estimator.k
    if isinstance(k, bool) or not isinstance(k, Real) or not 0 <= k <= 1:
        raise ValueError(f"k must be a fraction in [0, 1]; got {k!r}.")
