"""The ten box data sets of the time-series saliency benchmark (Ismail et al., 2020)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from xsup.datasets._processes import check_process, draw_process, irregular_times
from xsup.datasets._checks import check_bool, check_int, check_real, generator

__all__ = ["TS_BENCHMARK_KINDS", "make_ts_benchmark"]

#: The reference geometry is given on a 50 x 50 grid; other sizes scale it.
_REFERENCE_LENGTH = 50


class _Axis(NamedTuple):
    """Where a box lies along one axis, in cells of the 50-cell reference grid.

    ``rule`` is "fixed" (start = ``a``), "moving" (start drawn in ``[0, a)``)
    or "label" (start ``a`` for class 1, ``b`` for class 0).
    """

    rule: str
    size: int
    a: int
    b: int = 0


#: kind -> (time axis, feature axis).
_GEOMETRY: dict[str, tuple[_Axis, _Axis]] = {
    "middle": (_Axis("fixed", 30, 10), _Axis("fixed", 30, 10)),
    "small_middle": (_Axis("fixed", 14, 18), _Axis("fixed", 14, 18)),
    "moving_middle": (_Axis("moving", 30, 20), _Axis("moving", 30, 20)),
    "moving_small_middle": (_Axis("moving", 15, 35), _Axis("moving", 15, 35)),
    "rare_time": (_Axis("fixed", 6, 22), _Axis("fixed", 40, 5)),
    "moving_rare_time": (_Axis("moving", 6, 44), _Axis("moving", 40, 10)),
    "rare_feature": (_Axis("fixed", 40, 5), _Axis("fixed", 6, 22)),
    "moving_rare_feature": (_Axis("moving", 40, 10), _Axis("moving", 6, 44)),
    "positional_time": (_Axis("label", 20, 1, 29), _Axis("moving", 20, 30)),
    "positional_feature": (_Axis("moving", 20, 30), _Axis("label", 20, 1, 29)),
}

#: Names of the data sets, in the order of the benchmark paper.
TS_BENCHMARK_KINDS = tuple(_GEOMETRY)


def _scaled(cells: int, length: int) -> int:
    return round(cells * length / _REFERENCE_LENGTH)


def _starts(
    rng: np.random.Generator, axis: _Axis, length: int, y: np.ndarray
) -> tuple[np.ndarray, int]:
    """Box starts ``(N,)`` along an axis of ``length`` cells, and the box size."""
    size = max(1, _scaled(axis.size, length))
    if axis.rule == "moving":
        high = max(1, min(_scaled(axis.a, length), length - size + 1))
        return rng.integers(0, high, size=len(y)), size
    first = min(_scaled(axis.a, length), length - size)
    if axis.rule == "fixed":
        return np.full(len(y), first), size
    second = min(_scaled(axis.b, length), length - size)
    return np.where(y == 1, first, second), size


def make_ts_benchmark(
    kind: str,
    process: str = "gaussian",
    n_samples: int = 1000,
    random_state: Any = None,
    *,
    n_steps: int = 50,
    n_features: int = 50,
    shift: float = 1.0,
    noise: float = 0.3,
    fixed_narma_inputs: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generate one of the box data sets of the time-series saliency benchmark.

    Binary classification of multivariate series ``(T, F)`` drawn from a
    generating process (see :func:`sample_ts_process`), where a box of time
    steps x features carries the label: ``shift`` is added inside the box for
    class 1 and subtracted for class 0. For ``process="gaussian"`` the box
    cells are thus ``N(+-shift, 1)`` and the rest ``N(0, 1)``. The annotation
    ``E`` is the box.

    Boxes, as ``[start, end)`` cells on the default 50 x 50 grid (time x
    feature; "moving" boxes start at a random cell drawn per sample):

    ==========================  ============================  ============================
    kind                        time                          feature
    ==========================  ============================  ============================
    ``middle``                  10-40                         10-40
    ``small_middle``            18-32                         18-32
    ``moving_middle``           30 long, start in [0, 20)     30 wide, start in [0, 20)
    ``moving_small_middle``     15 long, start in [0, 35)     15 wide, start in [0, 35)
    ``rare_time``               22-28                         5-45
    ``moving_rare_time``        6 long, start in [0, 44)      40 wide, start in [0, 10)
    ``rare_feature``            5-45                          22-28
    ``moving_rare_feature``     40 long, start in [0, 10)     6 wide, start in [0, 44)
    ``positional_time``         20 long, start 1 (class 1)    20 wide, start in [0, 30)
                                or 29 (class 0)
    ``positional_feature``      20 long, start in [0, 30)     20 wide, start 1 (class 1)
                                                              or 29 (class 0)
    ==========================  ============================  ============================

    In the positional data sets the box always gets ``+shift``: the class is
    carried by the box's position along the axis the name gives (time for
    ``positional_time``). The benchmark's reference code names these two the
    other way round (its "PositionalTime" moves the box in time and codes the
    class by the feature position): compare ``positional_time`` here with its
    "PositionalFeature". Other grid sizes scale every number by
    ``n_steps / 50`` (time) and ``n_features / 50`` (features), rounded.

    X is returned raw. The benchmark scales each of the T x F cells to
    [0, 1] with a min-max scaler fitted on the training set; do that yourself
    where wanted, e.g. ``MinMaxScaler().fit(X_train.reshape(len(X_train), -1))``.
    For masking experiments, draw uninformative series from the same process
    with :func:`sample_ts_process` (same ``process``, ``noise`` and
    ``fixed_narma_inputs``).

    Parameters
    ----------
    kind : str
        One of ``TS_BENCHMARK_KINDS`` (table above).
    process : str, default="gaussian"
        One of ``TS_PROCESSES``; see :func:`sample_ts_process`.
    n_samples : int, default=1000
        Number of series (>= 1); ``n_samples // 2`` of them are class 1, in
        random order.
    random_state : int, numpy Generator, RandomState or None, default=None
        Seed; an int gives the same data on every call.
    n_steps : int, default=50
        Time steps T (>= 10).
    n_features : int, default=50
        Features F (>= 10).
    shift : float, default=1.0
        Value added to (class 1, positional boxes) or subtracted from (class 0)
        the box cells (> 0; the paper's mu).
    noise : float, default=0.3
        Standard deviation of the noise added to every process but
        ``"gaussian"`` (>= 0).
    fixed_narma_inputs : bool, default=False
        Reproduce the reference code's NARMA, where every feature of every
        sample follows the same series (see :func:`sample_ts_process`).

    Returns
    -------
    X : numpy.ndarray of shape (n_samples, n_steps, n_features)
        float32 series.
    y : numpy.ndarray of shape (n_samples,)
        int64 labels in {0, 1}.
    E : numpy.ndarray of shape (n_samples, n_steps, n_features)
        float32 annotations: 1 in the box, 0 outside. Losses that need
        negative annotations can take ``np.where(E > 0, 1, -1)``.
    boxes : numpy.ndarray of shape (n_samples, 4)
        int64 ``[time_start, time_end, feature_start, feature_end]`` of each
        box, ends excluded.

    Raises
    ------
    ValueError
        An unknown kind or process (the message lists the valid ones) or an
        option out of range.

    Examples
    --------
    >>> X, y, E, boxes = make_ts_benchmark("rare_time", n_samples=100, random_state=0)
    >>> X.shape, y.shape, E.shape, boxes.shape
    ((100, 50, 50), (100,), (100, 50, 50), (100, 4))
    >>> int(y.sum()), boxes[0].tolist(), int(E[0].sum())
    (50, [22, 28, 5, 45], 240)
    >>> X, y, E, boxes = make_ts_benchmark("moving_middle", "narma", 8, random_state=0,
    ...                                    n_steps=20, n_features=10)
    >>> X.shape, int((boxes[:, 1] - boxes[:, 0]).max()), int((boxes[:, 3] - boxes[:, 2]).max())
    ((8, 20, 10), 12, 6)
    """
    if not isinstance(kind, str) or kind not in _GEOMETRY:
        raise ValueError(f"kind must be one of {', '.join(TS_BENCHMARK_KINDS)}; got {kind!r}.")
    process = check_process(process)
    n_samples = check_int("n_samples", n_samples, 1)
    n_steps = check_int("n_steps", n_steps, 10)
    n_features = check_int("n_features", n_features, 10)
    shift = check_real("shift", shift, 0, math.inf, open_ends="lh")
    noise = check_real("noise", noise, 0, math.inf, open_ends="h")
    fixed_narma_inputs = check_bool("fixed_narma_inputs", fixed_narma_inputs)
    rng = generator(random_state)

    y = np.zeros(n_samples, dtype=np.int64)
    y[rng.permutation(n_samples)[: n_samples // 2]] = 1
    time_axis, feature_axis = _GEOMETRY[kind]
    time_start, time_size = _starts(rng, time_axis, n_steps, y)
    feature_start, feature_size = _starts(rng, feature_axis, n_features, y)
    boxes = np.stack(
        [time_start, time_start + time_size, feature_start, feature_start + feature_size], axis=1
    ).astype(np.int64)

    steps = np.arange(n_steps)[None, :, None]
    features = np.arange(n_features)[None, None, :]
    inside = (
        (steps >= boxes[:, 0, None, None]) & (steps < boxes[:, 1, None, None])
        & (features >= boxes[:, 2, None, None]) & (features < boxes[:, 3, None, None])
    )

    times = irregular_times(rng, n_samples, n_steps)
    X = draw_process(rng, process, times, n_features, noise, fixed_narma_inputs)
    positional = time_axis.rule == "label" or feature_axis.rule == "label"
    sign = np.ones(n_samples) if positional else np.where(y == 1, 1.0, -1.0)
    X += inside * (shift * sign)[:, None, None]
    return X.astype(np.float32), y, inside.astype(np.float32), boxes
