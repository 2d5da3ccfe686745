"""Checks of the data generators' options, with one message template, and their random generator."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = ["check_bool", "check_int", "check_real", "generator"]


def check_int(name: str, value: Any, low: int) -> int:
    """Check that ``value`` is an int (not a bool) of at least ``low``; return it as an int."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
    return int(value)


def check_real(name: str, value: Any, low: float, high: float, *, open_ends: str = "") -> float:
    """Check ``low <= value <= high``; ``open_ends`` holds "l" and/or "h" for strict bounds."""
    left, right = "(" if "l" in open_ends else "[", ")" if "h" in open_ends else "]"
    interval = f"{left}{low:g}, {high:g}{right}"
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        above = value > low if "l" in open_ends else value >= low
        below = value < high if "h" in open_ends else value <= high
        ok = above and below
    if not ok:
        raise ValueError(f"{name} must be a real number in {interval}; got {value!r}.")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def generator(random_state: Any) -> np.random.Generator:
    """A numpy Generator from None, an int, a Generator or a legacy RandomState."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    if random_state is None or isinstance(random_state, np.random.Generator) or (
        isinstance(random_state, Integral) and not isinstance(random_state, bool)
        and random_state >= 0
    ):
        return np.random.default_rng(random_state)
    raise ValueError(
        "random_state must be None, a non-negative int, a numpy Generator or RandomState; "
        f"got {random_state!r}."
    )
