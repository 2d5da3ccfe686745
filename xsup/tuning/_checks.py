"""Checks of the scalar arguments of :func:`xsup.tuning.tune`, each failing in one line."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

__all__ = ["check_heartbeat", "check_positive_int", "check_random_state", "check_timeout"]

#: Largest seed Optuna's samplers accept (NumPy's legacy ``RandomState`` takes 32 bits).
MAX_SEED = 2**32 - 1


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1.

    Examples
    --------
    >>> check_positive_int("n_trials", 3)
    3
    >>> check_positive_int("n_trials", 0)
    Traceback (most recent call last):
    ...
    ValueError: n_trials must be a positive integer; got 0.
    """
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def check_timeout(timeout: Any) -> float | None:
    """``timeout`` as None or a positive, finite number of seconds.

    Examples
    --------
    >>> check_timeout(None), check_timeout(90)
    (None, 90.0)
    >>> check_timeout(-1)
    Traceback (most recent call last):
    ...
    ValueError: timeout must be a positive number of seconds or None; got -1.
    >>> check_timeout("abc")
    Traceback (most recent call last):
    ...
    TypeError: timeout must be a positive number of seconds or None; got str 'abc'.
    """
    if timeout is None:
        return None
    expected = "timeout must be a positive number of seconds or None"
    if isinstance(timeout, bool) or not isinstance(timeout, Real):
        raise TypeError(f"{expected}; got {type(timeout).__name__} {timeout!r}.")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"{expected}; got {timeout!r}.")
    return float(timeout)


def check_random_state(random_state: Any) -> int | None:
    """``random_state`` as None or an int seed in ``[0, 2**32 - 1]``.

    Examples
    --------
    >>> check_random_state(0) is None, check_random_state(None) is None
    (False, True)
    >>> check_random_state("x")
    Traceback (most recent call last):
    ...
    TypeError: random_state must be None or an integer seed in [0, 4294967295]; got str 'x'.
    """
    if random_state is None:
        return None
    expected = f"random_state must be None or an integer seed in [0, {MAX_SEED}]"
    if not _is_int(random_state):
        raise TypeError(f"{expected}; got {type(random_state).__name__} {random_state!r}.")
    if not 0 <= random_state <= MAX_SEED:
        raise ValueError(f"{expected}; got {random_state!r}.")
    return int(random_state)


def check_heartbeat(name: str, value: Any) -> int | None:
    """A heartbeat setting as None or a positive whole number of seconds.

    Examples
    --------
    >>> check_heartbeat("grace_period", 0)
    Traceback (most recent call last):
    ...
    ValueError: grace_period must be a positive whole number of seconds or None; got 0.
    """
    if value is not None and (not _is_int(value) or value < 1):
        raise ValueError(f"{name} must be a positive whole number of seconds or None; got {value!r}.")
    return None if value is None else int(value)
