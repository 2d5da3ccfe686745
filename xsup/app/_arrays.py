"""Arrays on the wire: annotations as JSON (C order, NaN as null), inputs and maps as float32 bytes."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["ARRAY_SHAPE_HEADER", "array_bytes", "jsonable", "parse_values", "values_json"]

#: Response header that gives the shape of a binary array (comma-separated).
ARRAY_SHAPE_HEADER = "x-array-shape"

#: JSON text of the values an annotation usually holds, by code (value + 1; 3 is NaN).
_SMALL = np.array(["-1", "0", "1", "null"])


def values_json(array: np.ndarray) -> str:
    """The values of ``array`` as a JSON array in C order, NaN written as ``null``.

    Examples
    --------
    >>> values_json(np.array([[1, 0], [np.nan, -0.5]]))
    '[1,0,null,-0.5]'
    """
    flat = np.asarray(array, dtype=np.float64).ravel()
    missing = np.isnan(flat)
    filled = np.where(missing, 0.0, flat)
    if np.all(np.isin(filled, (-1.0, 0.0, 1.0))):  # the common case, without a Python loop
        codes = np.where(missing, 3, filled.astype(np.int64) + 1)
        return "[" + ",".join(_SMALL[codes].tolist()) + "]"
    values = [None if math.isnan(value) else _short(value) for value in flat.tolist()]
    return json.dumps(values, allow_nan=False, separators=(",", ":"))


def _short(value: float) -> float | int:
    return int(value) if value.is_integer() else value


def parse_values(data: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A flat JSON list (numbers, null for NaN) as a float32 array of ``shape``, else ``ValueError``."""
    size = math.prod(shape)
    if not isinstance(data, list) or len(data) != size:
        got = f"a list of {len(data)} values" if isinstance(data, list) else type(data).__name__
        raise ValueError(f"data must be a list of {size} values (the annotation of shape "
                         f"{list(shape)} in C order, null for NaN); got {got}.")
    if not all(value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
               for value in data):
        raise ValueError("data must hold numbers and null only.")
    return np.array(data, dtype=np.float32).reshape(shape)


def array_bytes(array: Any) -> tuple[bytes, dict[str, str]]:
    """Little-endian float32 bytes of ``array`` and the header that gives its shape."""
    values = np.ascontiguousarray(array, dtype="<f4")
    return values.tobytes(), {ARRAY_SHAPE_HEADER: ",".join(map(str, values.shape))}


def jsonable(values: Any) -> list[Any]:
    """A 1-D array as a list for JSON: NaN becomes None, numpy scalars Python ones."""
    array = np.asarray(values)
    if array.dtype.kind == "f":
        return [None if math.isnan(value) else value for value in array.tolist()]
    return array.tolist()
