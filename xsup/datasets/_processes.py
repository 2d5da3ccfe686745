"""The seven generating processes of the time-series saliency benchmark (Ismail et al., 2020).

Each feature of a sample is drawn independently from the process, on a time
grid that is irregular and drawn per sample (shared by its features).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from xsup.datasets._checks import check_bool, check_int, check_real, generator

__all__ = ["TS_PROCESSES", "sample_ts_process"]

#: Names of the generating processes, in the order of the benchmark paper.
TS_PROCESSES = (
    "gaussian",
    "autoregressive",
    "continuous_autoregressive",
    "gaussian_process",
    "harmonic",
    "narma",
    "pseudo_periodic",
)

#: Span of the time axis and spread of the jitter of the irregular grid.
_TIME_STOP, _TIME_JITTER = 20.0, 0.2
#: NARMA order and coefficients (a1 y_k + a2 y_k sum(y) + a3 u u + a4).
_NARMA_ORDER, _NARMA_COEFFICIENTS = 10, (0.3, 0.05, 1.5, 0.1)
#: Seed of the NARMA inputs shared by every series with ``fixed_narma_inputs=True``.
_NARMA_FIXED_SEED = 42


def irregular_times(rng: np.random.Generator, n_samples: int, n_steps: int) -> np.ndarray:
    """``(n_samples, n_steps)`` sorted time stamps, irregular and different for each sample.

    Keep ``n_steps`` random points of ``2 * n_steps`` evenly spaced on
    ``[0, 20]``, add Gaussian jitter (standard deviation 0.2) and sort.
    """
    grid = np.linspace(0.0, _TIME_STOP, 2 * n_steps)
    kept = np.sort(rng.random((n_samples, 2 * n_steps)).argsort(axis=1)[:, :n_steps], axis=1)
    return np.sort(grid[kept] + rng.normal(0.0, _TIME_JITTER, size=kept.shape), axis=1)


def _gaussian(rng: np.random.Generator, times: np.ndarray, n_features: int, **_: Any) -> np.ndarray:
    return rng.standard_normal((*times.shape, n_features))


def _autoregressive(
    rng: np.random.Generator, times: np.ndarray, n_features: int, **_: Any
) -> np.ndarray:
    """AR(1) ``x_k = 0.9 x_{k-1} + N(0, 0.5^2)`` from ``x_{-1} = 0``; time stamps ignored."""
    shocks = 0.5 * rng.standard_normal((*times.shape, n_features))
    out = np.empty_like(shocks)
    previous = np.zeros((times.shape[0], n_features))
    for step in range(times.shape[1]):
        previous = out[:, step] = 0.9 * previous + shocks[:, step]
    return out


def _continuous_autoregressive(
    rng: np.random.Generator, times: np.ndarray, n_features: int, **_: Any
) -> np.ndarray:
    """CAR(1): ``x_k = 0.9^dt x_{k-1} + 0.01 sqrt(1 - 0.9^dt) N(0, 1)`` from ``x_0 = 0.01``."""
    decay = 0.9 ** np.diff(times, axis=1)[..., None]  # (N, T - 1, 1)
    shocks = rng.standard_normal((times.shape[0], times.shape[1] - 1, n_features))
    out = np.empty((*times.shape, n_features))
    out[:, 0] = 0.01
    for step in range(1, times.shape[1]):
        rate = decay[:, step - 1]
        out[:, step] = rate * out[:, step - 1] + 0.01 * np.sqrt(1.0 - rate) * shocks[:, step - 1]
    return out


def _gaussian_process(
    rng: np.random.Generator, times: np.ndarray, n_features: int, **_: Any
) -> np.ndarray:
    """Zero-mean Gaussian process with a Matern (nu = 3/2) kernel, length scale 1, variance 1."""
    distance = math.sqrt(3.0) * np.abs(times[:, :, None] - times[:, None, :])
    covariance = (1.0 + distance) * np.exp(-distance)
    # A nugget of 1e-8 keeps the Cholesky factorisation defined when two stamps coincide.
    root = np.linalg.cholesky(covariance + 1e-8 * np.eye(times.shape[1]))
    return root @ rng.standard_normal((*times.shape, n_features))


def _harmonic(rng: np.random.Generator, times: np.ndarray, n_features: int, **_: Any) -> np.ndarray:
    """``sin(2 pi 2 t)``: amplitude 1, frequency 2 (period 0.5)."""
    return np.repeat(np.sin(2 * np.pi * 2.0 * times)[..., None], n_features, axis=2)


def _narma(
    rng: np.random.Generator, times: np.ndarray, n_features: int, *, fixed_narma_inputs: bool,
    **_: Any,
) -> np.ndarray:
    """NARMA of order 10 driven by inputs ``u ~ U(0, 0.5)``, from 10 zeros; stamps ignored.

    ``y_{k+1} = 0.3 y_k + 0.05 y_k sum_{i<10} y_{k-i} + 1.5 u_{k-9} u_k + 0.1``.
    """
    n_samples, n_steps = times.shape
    order = _NARMA_ORDER
    a1, a2, a3, a4 = _NARMA_COEFFICIENTS
    shape = (n_samples, order + n_steps, n_features)
    if fixed_narma_inputs:
        fixed = np.random.default_rng(_NARMA_FIXED_SEED).uniform(0.0, 0.5, size=order + n_steps)
        inputs = np.broadcast_to(fixed[None, :, None], shape)
    else:
        inputs = rng.uniform(0.0, 0.5, size=shape)
    series = np.zeros(shape)
    for step in range(order, order + n_steps):
        last = series[:, step - 1]
        window = series[:, step - order : step].sum(axis=1)
        series[:, step] = (
            a1 * last + a2 * last * window + a3 * inputs[:, step - order] * inputs[:, step - 1] + a4
        )
    return series[:, order:]


def _pseudo_periodic(
    rng: np.random.Generator, times: np.ndarray, n_features: int, **_: Any
) -> np.ndarray:
    """``A sin(f t)``, ``A ~ N(1, 0.5^2)`` and ``f ~ N(2, 0.01^2)`` drawn afresh at every point."""
    shape = (*times.shape, n_features)
    amplitude = rng.normal(1.0, 0.5, size=shape)
    frequency = rng.normal(2.0, 0.01, size=shape)
    return amplitude * np.sin(frequency * times[..., None])


_PROCESSES: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": _gaussian,
    "autoregressive": _autoregressive,
    "continuous_autoregressive": _continuous_autoregressive,
    "gaussian_process": _gaussian_process,
    "harmonic": _harmonic,
    "narma": _narma,
    "pseudo_periodic": _pseudo_periodic,
}


def check_process(process: Any) -> str:
    """Return ``process`` if it names a generating process, else raise ``ValueError``."""
    if not isinstance(process, str) or process not in _PROCESSES:
        raise ValueError(f"process must be one of {', '.join(TS_PROCESSES)}; got {process!r}.")
    return process


def draw_process(
    rng: np.random.Generator, process: str, times: np.ndarray, n_features: int, noise: float,
    fixed_narma_inputs: bool,
) -> np.ndarray:
    """``(N, T, F)`` float64 values of ``process`` at ``times``, plus noise (except "gaussian")."""
    values = _PROCESSES[process](rng, times, n_features, fixed_narma_inputs=fixed_narma_inputs)
    if process != "gaussian":
        values = values + noise * rng.standard_normal(values.shape)
    return values


def _check_times(times: Any, n_samples: int, n_steps: int) -> np.ndarray:
    array = np.asarray(times, dtype=np.float64)
    if array.ndim == 1:
        array = np.broadcast_to(array, (n_samples, array.shape[0]))
    if array.shape != (n_samples, n_steps):
        raise ValueError(
            f"times must have shape ({n_steps},) or ({n_samples}, {n_steps}) (one stamp per time "
            f"step, optionally per sample); got {np.shape(times)}."
        )
    if not np.isfinite(array).all() or (np.diff(array, axis=1) < 0).any():
        raise ValueError("times must be finite and non-decreasing along the time axis.")
    return array


def sample_ts_process(
    process: str = "gaussian",
    n_samples: int = 1,
    random_state: Any = None,
    *,
    n_steps: int = 50,
    n_features: int = 50,
    noise: float = 0.3,
    times: Any = None,
    fixed_narma_inputs: bool = False,
) -> np.ndarray:
    """Draw uninformative multivariate time series from a benchmark process.

    The background of :func:`make_ts_benchmark` without any box: what the
    benchmark's masking experiments put in place of the features a saliency
    method ranks highest. Every feature is drawn independently; all features
    of a sample share its time stamps.

    ``"gaussian"``
        White noise ``N(0, 1)`` (no further noise is added).
    ``"autoregressive"``
        AR(1): ``x_k = 0.9 x_{k-1} + e_k``, ``e_k ~ N(0, 0.5^2)``, ``x_{-1} = 0``
        (time stamps ignored).
    ``"continuous_autoregressive"``
        CAR(1): ``x_k = 0.9^dt x_{k-1} + 0.01 sqrt(1 - 0.9^dt) e_k``,
        ``e_k ~ N(0, 1)``, ``x_0 = 0.01``, ``dt`` the gap between stamps. Its
        variance is tiny: the added noise dominates, as in the benchmark.
    ``"gaussian_process"``
        Gaussian process, Matern kernel with nu = 3/2, length scale 1, variance 1.
    ``"harmonic"``
        ``sin(2 pi f t)`` with ``f = 2``. Without a phase, all features of a
        sample take the same values before the noise.
    ``"narma"``
        NARMA of order 10: ``y_{k+1} = 0.3 y_k + 0.05 y_k sum_{i=0}^{9}
        y_{k-i} + 1.5 u_{k-9} u_k + 0.1``, ``u ~ U(0, 0.5)``, from zeros (time
        stamps ignored).
    ``"pseudo_periodic"``
        ``A sin(f t)`` with ``A ~ N(1, 0.5^2)`` and ``f ~ N(2, 0.01^2)`` drawn
        at every point (``f`` in radians per time unit, as in the benchmark).

    Every process but ``"gaussian"`` gets additive Gaussian noise of standard
    deviation ``noise``.

    Parameters
    ----------
    process : str, default="gaussian"
        One of ``TS_PROCESSES``.
    n_samples : int, default=1
        Number of series (>= 1).
    random_state : int, numpy Generator, RandomState or None, default=None
        Seed; an int gives the same series on every call.
    n_steps : int, default=50
        Time steps T (>= 2).
    n_features : int, default=50
        Features F (>= 1).
    noise : float, default=0.3
        Standard deviation of the additive noise (>= 0); unused by ``"gaussian"``.
    times : array-like of shape (n_steps,) or (n_samples, n_steps), default=None
        Time stamps, non-decreasing. None draws an irregular grid per sample:
        ``n_steps`` random points of ``2 * n_steps`` evenly spaced on
        ``[0, 20]``, plus Gaussian jitter of standard deviation 0.2, sorted.
    fixed_narma_inputs : bool, default=False
        Drive every NARMA series by the same input sequence, drawn from a fixed
        seed whatever ``random_state``: every feature of every sample then
        follows the same series and only the added noise differs. This is what
        the benchmark's reference code does (its NARMA generator seeds itself);
        the default draws fresh inputs per series instead.

    Returns
    -------
    X : numpy.ndarray of shape (n_samples, n_steps, n_features)
        float32 series.

    Raises
    ------
    ValueError
        An unknown process (the message lists the valid ones) or an option out
        of range.

    Examples
    --------
    >>> X = sample_ts_process("autoregressive", 4, random_state=0)
    >>> X.shape, X.dtype
    ((4, 50, 50), dtype('float32'))
    >>> X = sample_ts_process("harmonic", 1, noise=0.0, n_steps=3, n_features=1,
    ...                       times=[0.0, 0.125, 0.375])
    >>> np.round(X[0, :, 0], 6).tolist()
    [0.0, 1.0, -1.0]
    """
    process = check_process(process)
    n_samples = check_int("n_samples", n_samples, 1)
    n_steps = check_int("n_steps", n_steps, 2)
    n_features = check_int("n_features", n_features, 1)
    noise = check_real("noise", noise, 0, math.inf, open_ends="h")
    fixed_narma_inputs = check_bool("fixed_narma_inputs", fixed_narma_inputs)
    rng = generator(random_state)
    if times is None:
        stamps = irregular_times(rng, n_samples, n_steps)
    else:
        stamps = _check_times(times, n_samples, n_steps)
    values = draw_process(rng, process, stamps, n_features, noise, fixed_narma_inputs)
    return values.astype(np.float32)
