"""Performance: explanation-loss overhead, RES's threshold search, ``explain`` cost.

Every number is a ratio or a rate measured in the same run on the same
machine, so that it can be compared across machines:

- the epoch time of each explanation loss over the baseline's (``loss="none"``)
  on the default raster backbone (``cnn_gru`` on
  :func:`xsup.datasets.make_spatiotemporal_events`), with and without the
  double backward through the saliency map (``explainer__create_graph``);
  configurations above their target are profiled with :mod:`torch.profiler`;
- :func:`xsup.losses._threshold.adaptive_threshold` against a brute-force
  O(m²) search of the same threshold;
- ``explain`` throughput per explainer and input kind, and how its cost grows
  with the number of samples N, the sequence length T and the frame size H x W
  (log-log slopes and a figure);
- peak resident memory of fitting, predicting and explaining from memory-mapped
  files of N and 10·N samples (:mod:`xsup.bench._perf_memory`);
- batched Temporal Saliency Rescaling against the per-sample loop
  (:func:`xsup.bench._tsr_timing.measure_tsr_speedup`).

The estimators use ``device="auto"``: the same benchmark runs unchanged on a
GPU machine, says which device it used, and reports samples per second and the
GPU's utilisation ("n/a (CPU)" without one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from xsup.bench import _perf_report as report
from xsup.bench._perf_report import SLOW_METHODS, SLOW_SAMPLES, THROUGHPUT_METHODS
from xsup.bench._common import BenchResult, Progress, mode_settings
from xsup.bench._perf_memory import gpu_utilisation, memory_ratio
from xsup.bench._tsr_timing import measure_tsr_speedup

__all__ = ["FULL", "QUICK", "TRAINING_CONFIGS", "PerfBenchSettings", "brute_force_threshold", "run"]

#: Label -> (estimator parameters, target ratio to the baseline epoch or None).
TRAINING_CONFIGS: dict[str, tuple[dict[str, Any], float | None]] = {
    "GRADIA": ({"loss": "gradia"}, None),
    "STES": ({"loss": "stes", "interpolator": "stes"}, 1.3),
    "STES-I (no interpolator)": ({"loss": "stes"}, None),
    "SGT": ({"loss": "sgt"}, 2.7),
    "RES-G": ({"loss": "res"}, None),
}

#: Configurations timed again on wider ``cnn_gru`` encoders: the learned interpolator's cost
#: does not grow with the backbone, so its share of an STES epoch shrinks.
WIDER_CONFIGS: dict[str, dict[str, Any]] = {
    "Baseline (loss=none)": {"loss": "none"},
    "STES": TRAINING_CONFIGS["STES"][0],
    "STES-I (no interpolator)": TRAINING_CONFIGS["STES-I (no interpolator)"][0],
}

#: Paper's reported ratio to the baseline epoch, where there is one.
PAPER_RATIOS = {"STES": 18.6 / 12.5, "SGT": 3.1}

FIGURE_NAME = "perf_explain_scaling.png"

#: Largest ratio of the peak RSS at 10 N to that at N for memory-mapped data.
MEMORY_TARGET = 1.3


@dataclass(frozen=True)
class PerfBenchSettings:
    """Sizes of a run: training set and epochs, threshold sizes, ``explain`` grids."""

    n_train: int
    epochs: int
    batch_size: int
    threshold_m: int
    brute_force_m: tuple[int, ...]
    n_explain: int
    grid_n: tuple[int, ...]
    grid_t: tuple[int, ...]
    grid_hw: tuple[int, ...]
    repeats: int
    rounds: int
    memory_n: int
    tsr_size: tuple[int, int, int]
    wider_channels: tuple[tuple[int, ...], ...]
    seeds: tuple[int, ...] = (0,)


FULL = PerfBenchSettings(
    n_train=512, epochs=4, batch_size=32, threshold_m=100_000,
    brute_force_m=(10_000, 30_000, 100_000),
    n_explain=256, grid_n=(64, 128, 256, 512), grid_t=(2, 4, 8, 16), grid_hw=(8, 16, 32, 64),
    repeats=3, rounds=5, memory_n=2_000, tsr_size=(50, 50, 50),
    wider_channels=((32, 64), (64, 128)),
)
QUICK = PerfBenchSettings(
    n_train=32, epochs=2, batch_size=16, threshold_m=2_000, brute_force_m=(500, 1_000),
    n_explain=16, grid_n=(8, 16), grid_t=(2, 4), grid_hw=(8, 16), repeats=1,
    rounds=1, memory_n=64, tsr_size=(2, 6, 3), wider_channels=((32, 64),),
)


def _best_time(function: Callable[[], Any], repeats: int) -> float:
    """The smallest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def _slope(sizes: list[float], seconds: list[float]) -> float:
    """Log-log slope of time against size (1 = linear)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


# ---------------------------------------------------------------- epoch time of each loss
def _epoch_seconds(model: Any) -> float:
    """Median epoch duration after the first (warm-up) epoch, from skorch's history."""
    durations = [row["dur"] for row in model.history]
    return float(np.median(durations[1:] if len(durations) > 1 else durations))


def _training_model(settings: PerfBenchSettings, params: dict[str, Any], seed: int) -> Any:
    from xsup import ExplanationSupervisedClassifier

    return ExplanationSupervisedClassifier(
        module="cnn_gru", explainer="gradcam", max_epochs=settings.epochs,
        batch_size=settings.batch_size, train_split=None, verbose=0, random_state=seed,
        device="auto", **params,
    )


def _training_data(settings: PerfBenchSettings, seed: int) -> tuple[np.ndarray, ...]:
    from xsup.datasets import make_spatiotemporal_events

    X, y, E = make_spatiotemporal_events(settings.n_train, random_state=seed)
    # every loss gets the outside of the boxes as -1: RES needs negatives, the others clip to 0
    return X, y, np.where(E == 0, np.float32(-1.0), E).astype(np.float32)


def _profile(settings: PerfBenchSettings, params: dict[str, Any], data: tuple[np.ndarray, ...],
             seed: int, rows: int = 8) -> list[dict[str, Any]]:
    """Self CPU time of the most expensive operators in one training epoch."""
    from torch.profiler import ProfilerActivity, profile

    model = _training_model(replace(settings, epochs=1), params, seed)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        model.fit(*data)
    events = sorted(profiler.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [{"op": e.key, "self_ms": e.self_cpu_time_total / 1e3,
             "share": e.self_cpu_time_total / total, "calls": e.count} for e in events[:rows]]


def epoch_ratios(settings: PerfBenchSettings, progress: Progress, seed: int) -> dict[str, Any]:
    """Epoch time of every loss (with and without ``create_graph``) over the baseline's.

    The configurations are fitted in turn, ``rounds`` times over, and each keeps
    its fastest round: a round slowed down by another process on the machine
    does not skew a ratio.
    """
    data = _training_data(settings, seed)
    configs: dict[str, tuple[dict[str, Any], float | None, float | None]] = {
        "Baseline (loss=none)": ({"loss": "none"}, None, None)}
    for label, (params, target) in TRAINING_CONFIGS.items():
        configs[label] = ({**params, "explainer__create_graph": True}, target,
                          PAPER_RATIOS.get(label))
        configs[f"{label} (create_graph=False)"] = (
            {**params, "explainer__create_graph": False}, None, None)
    seconds: dict[str, list[float]] = {name: [] for name in configs}
    gpu: dict[str, float | None] = {}
    device = ""
    for round_ in range(settings.rounds):
        progress.step(f"round {round_ + 1}/{settings.rounds}: {len(configs)} configurations, "
                      f"{settings.epochs} epochs on {settings.n_train} sequences each")
        for name, (params, _, _) in configs.items():
            model = _training_model(settings, params, seed).fit(*data)
            seconds[name].append(_epoch_seconds(model))
            gpu[name] = gpu_utilisation()
            device = str(model.device)
        progress.note("    " + ", ".join(f"{name.split(' ')[0]}{'*' if 'False' in name else ''} "
                                          f"{values[-1]:.3f}" for name, values in seconds.items()))
    base = min(seconds["Baseline (loss=none)"])
    rows: dict[str, dict[str, Any]] = {}
    profiles: dict[str, list[dict[str, Any]]] = {}
    for name, (params, target, paper) in list(configs.items())[1:]:
        ratio = min(seconds[name]) / base
        rows[name] = {"epoch_s": min(seconds[name]), "rounds_s": seconds[name], "ratio": ratio,
                      "target": target, "paper": paper, "gpu": gpu[name]}
        if target is not None and ratio > target:
            progress.note(f"    {name}: {ratio:.2f}x the baseline, above its target {target}: "
                          "profiling one epoch")
            profiles[name] = _profile(settings, params, data, seed)
    return {"device": device, "n_train": settings.n_train, "baseline_epoch_s": base,
            "baseline_rounds_s": seconds["Baseline (loss=none)"],
            "baseline_gpu": gpu["Baseline (loss=none)"], "ratios": rows, "profiles": profiles}


def wider_backbone_ratios(settings: PerfBenchSettings, progress: Progress,
                          seed: int) -> dict[str, Any]:
    """STES and STES-I epoch ratios on ``cnn_gru`` encoders wider than the default.

    Same data, rounds and timing as :func:`epoch_ratios`; each width has its own
    baseline. Returns ``{"(32, 64)": {"channels", "baseline_epoch_s", "ratios"}, ...}``.
    """
    data = _training_data(settings, seed)
    baseline = next(iter(WIDER_CONFIGS))
    result: dict[str, Any] = {}
    for channels in settings.wider_channels:
        progress.step(f"STES on a wider backbone: cnn_gru channels {channels}, "
                      f"{settings.rounds} rounds")
        seconds: dict[str, list[float]] = {name: [] for name in WIDER_CONFIGS}
        for _ in range(settings.rounds):
            for name, params in WIDER_CONFIGS.items():
                model = _training_model(settings, {**params, "module__channels": channels}, seed)
                seconds[name].append(_epoch_seconds(model.fit(*data)))
        base = min(seconds[baseline])
        result[str(tuple(channels))] = {
            "channels": list(channels), "baseline_epoch_s": base,
            "ratios": {name: min(values) / base for name, values in seconds.items()
                       if name != baseline}}
        progress.note("    " + ", ".join(f"{name} {ratio:.2f}" for name, ratio
                                         in result[str(tuple(channels))]["ratios"].items()))
    return result


# ---------------------------------------------------------------- RES threshold search
def brute_force_threshold(saliency: np.ndarray, positive: np.ndarray, negative: np.ndarray,
                          chunk: int = 1024) -> tuple[float, int]:
    """Best count of satisfied RES constraints over all candidates, by checking every pair.

    O(m²) comparisons, vectorised over chunks of ``chunk`` candidates.

    Parameters
    ----------
    saliency : numpy.ndarray
        Saliency values of one row, shape ``(m,)``.
    positive, negative : numpy.ndarray
        Boolean ``(m,)`` masks of the annotated positive and negative cells.
    chunk : int, default=1024
        Candidates compared at once.

    Returns
    -------
    threshold : float
        A candidate with the best count (the smallest one).
    count : int
        The best count.

    Examples
    --------
    >>> M = np.array([0.3, 0.6, 0.5, 0.0])
    >>> brute_force_threshold(M, np.array([0, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool))
    (0.5, 3)
    """
    saliency = np.asarray(saliency, dtype=np.float64)
    if saliency.ndim != 1:
        raise ValueError(f"saliency must be 1-D; got shape {saliency.shape}.")
    positive = np.asarray(positive, dtype=bool)
    negative = np.asarray(negative, dtype=bool)
    if positive.shape != saliency.shape or negative.shape != saliency.shape:
        raise ValueError(f"positive and negative must have shape {saliency.shape}; got "
                         f"{positive.shape} and {negative.shape}.")
    candidates = saliency[positive | negative]
    if candidates.size == 0:
        return 0.0, 0
    kept, dropped = saliency[positive], saliency[negative]
    counts = np.empty(candidates.size, dtype=np.int64)
    for start in range(0, candidates.size, chunk):
        values = candidates[start:start + chunk, None]
        counts[start:start + chunk] = (kept >= values).sum(axis=1) + (dropped <= values).sum(axis=1)
    best = int(counts.max())
    return float(candidates[counts == best].min()), best


def _threshold_row(m: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    saliency = rng.random(m)
    label = rng.random(m)
    return saliency, label < 0.3, label > 0.6


def threshold_speedup(settings: PerfBenchSettings, progress: Progress, seed: int) -> dict[str, Any]:
    """Time ``adaptive_threshold`` at ``threshold_m`` and brute force at smaller sizes."""
    import torch

    from xsup.losses._threshold import adaptive_threshold

    rng = np.random.default_rng(seed)
    progress.step(f"RES threshold: brute force at m = {settings.brute_force_m}")
    brute_s: list[float] = []
    for m in settings.brute_force_m:
        saliency, positive, negative = _threshold_row(m, rng)
        brute_s.append(_best_time(lambda: brute_force_threshold(saliency, positive, negative), 1))
        row = (saliency, positive, negative)
        fast = adaptive_threshold(*(torch.as_tensor(a)[None] for a in row))
        a = float(fast[0])
        count = int((saliency[positive] >= a).sum() + (saliency[negative] <= a).sum())
        if count != brute_force_threshold(saliency, positive, negative)[1]:
            raise RuntimeError(f"adaptive_threshold is not optimal at m = {m}.")
    progress.step(f"RES threshold: adaptive_threshold at m = {settings.threshold_m}")
    tensors = [torch.as_tensor(a)[None] for a in _threshold_row(settings.threshold_m, rng)]
    fast_s = _best_time(lambda: adaptive_threshold(*tensors), 5 * settings.repeats)
    measured_slope = _slope(list(settings.brute_force_m), brute_s) if len(brute_s) > 1 else 2.0
    largest = settings.brute_force_m[-1]
    extrapolated = brute_s[-1] * (settings.threshold_m / largest) ** 2
    return {"m": settings.threshold_m, "adaptive_s": fast_s,
            "brute_force_m": settings.brute_force_m,
            "brute_force_s": brute_s, "brute_force_slope": measured_slope,
            "brute_force_extrapolated_s": extrapolated, "speedup": extrapolated / fast_s}


# ---------------------------------------------------------------- explain throughput and scaling
def _kind_data(kind: str, n: int, rng: np.random.Generator, t: int = 4, hw: int = 16
               ) -> tuple[np.ndarray, np.ndarray]:
    shapes = {"tabular": (n, 16), "time_series": (n, 32, 3), "images": (n, 1, hw, hw),
              "raster_sequences": (n, t, 1, hw, hw)}
    X = rng.standard_normal(shapes[kind]).astype(np.float32)
    y = np.arange(n) % 2
    return X, y


def _explain_model(X: np.ndarray, y: np.ndarray, seed: int) -> Any:
    from xsup import ExplanationSupervisedClassifier

    model = ExplanationSupervisedClassifier(loss="none", max_epochs=1, train_split=None,
                                            verbose=0, random_state=seed, device="auto")
    return model.fit(X[:16], y[:16])


def explain_throughput(
    settings: PerfBenchSettings, progress: Progress, seed: int
) -> dict[str, Any]:
    """Samples per second of ``explain`` per input kind and explainer (None: not applicable)."""
    from xsup.estimators._parameters import AUTO_MODULE

    rng = np.random.default_rng(seed)
    rows: dict[str, dict[str, float | None]] = {}
    progress.step(f"explain throughput on {settings.n_explain} samples per input kind")
    for kind in AUTO_MODULE:
        X, y = _kind_data(kind, settings.n_explain, rng)
        model = _explain_model(X, y, seed)
        rows[kind] = {}
        for method in THROUGHPUT_METHODS:
            try:
                model.explain(X[:2], method=method)
            except ValueError:  # e.g. Grad-CAM without a spatial or temporal axis, TSR without time
                rows[kind][method] = None
                continue
            n = min(SLOW_SAMPLES, len(X)) if method in SLOW_METHODS else len(X)
            seconds = _best_time(lambda: model.explain(X[:n], method=method), settings.repeats)
            rows[kind][method] = n / seconds
        rows[kind]["gpu"] = gpu_utilisation()
        progress.note(f"    {kind} ({AUTO_MODULE[kind]}): " + ", ".join(
            f"{m} {rows[kind][m]:.0f}/s" if rows[kind][m] else f"{m} n/a"
            for m in THROUGHPUT_METHODS))
    return rows


def explain_scaling(settings: PerfBenchSettings, progress: Progress, seed: int) -> dict[str, Any]:
    """Grad-CAM ``explain`` time on raster sequences as N, T and H x W grow (others at defaults)."""
    rng = np.random.default_rng(seed)
    grids = {"N": settings.grid_n, "T": settings.grid_t, "H x W": settings.grid_hw}
    result: dict[str, Any] = {}
    for axis, values in grids.items():
        progress.step(f"explain scaling with {axis} over {values}")
        sizes, seconds = [], []
        for value in values:
            n = value if axis == "N" else settings.grid_n[0]
            t = value if axis == "T" else 4
            hw = value if axis == "H x W" else 16
            X, y = _kind_data("raster_sequences", n, rng, t=t, hw=hw)
            model = _explain_model(X, y, seed)
            seconds.append(_best_time(lambda: model.explain(X, method="gradcam"), settings.repeats))
            sizes.append(value * value if axis == "H x W" else value)
        result[axis] = {"values": list(values), "sizes": sizes, "seconds": seconds,
                        "slope": _slope(sizes, seconds)}
        progress.note(f"    {axis}: log-log slope {result[axis]['slope']:.2f}")
    return result


def tsr_speedup(settings: PerfBenchSettings, progress: Progress, seed: int) -> dict[str, Any]:
    """Batched TSR against the loop (:func:`~xsup.bench._tsr_timing.measure_tsr_speedup`)."""
    n, t, f = settings.tsr_size
    progress.step(f"TSR batched against the loop at {n} x {t} x {f}")
    return measure_tsr_speedup(n=n, t=t, f=f, seed=seed)


def run(out: Path, *, quick: bool = False, seeds: tuple[int, ...] | None = None) -> BenchResult:
    """Measure every ratio and rate, draw the scaling figure and return the tables.

    Parameters
    ----------
    out : pathlib.Path
        Folder of the figure (created if needed).
    quick : bool, default=False
        CI-sized run (a few seconds); its numbers mean nothing.
    seeds : tuple of int, optional
        Only the first seed is used (data, initialisation, random rows).

    Returns
    -------
    BenchResult
        The ratio, threshold, throughput and scaling tables.
    """
    settings = mode_settings(FULL, QUICK, quick=quick, seeds=seeds)
    seed = settings.seeds[0]
    progress = Progress(settings.rounds + len(settings.wider_channels) + 2 + 1 + 3 + 1 + 1 + 1)
    epochs = epoch_ratios(settings, progress, seed)
    wider = wider_backbone_ratios(settings, progress, seed)
    threshold = threshold_speedup(settings, progress, seed)
    progress.note(f"    speed-up {threshold['speedup']:.0f}x at m = {threshold['m']}")
    throughput = explain_throughput(settings, progress, seed)
    scaling = explain_scaling(settings, progress, seed)
    out.mkdir(parents=True, exist_ok=True)
    progress.step(f"memory-mapped fit, predict and explain of {settings.memory_n} and "
                  f"{10 * settings.memory_n} images, each in a fresh process")
    memory = memory_ratio(settings.memory_n, out / "_memmap", seed=seed, target=MEMORY_TARGET)
    progress.note(f"    peak RSS ratio 10 N / N: {memory['ratio']:.2f}")
    tsr = tsr_speedup(settings, progress, seed)
    progress.note(f"    TSR speed-up {tsr['speedup']:.1f}x")
    progress.step(f"figure {FIGURE_NAME}")
    report.plot_scaling(scaling, out / FIGURE_NAME)
    return BenchResult(
        name="perf",
        title="Performance: explanation-loss overhead, RES threshold search, explain throughput",
        intro=report.intro(settings, epochs["device"]),
        tables={
            "Epoch time over the baseline's": report.epoch_table(epochs),
            "STES on wider backbones": report.wider_table(epochs, wider),
            "Where the time goes (configurations above target)":
                report.profile_tables(epochs["profiles"]),
            "RES threshold search": report.threshold_table(threshold),
            "explain throughput": report.throughput_table(throughput),
            "explain cost growth": report.scaling_table(scaling),
            "Memory-mapped data: peak RSS at N and 10 N": report.memory_table(memory),
            "TSR: batched against the loop": report.tsr_table(tsr),
        },
        data={"epochs": epochs, "wider_backbones": wider, "threshold": threshold, "throughput": throughput,
              "scaling": scaling, "memory": memory, "tsr": tsr},
        settings=asdict(settings),
        figures=[FIGURE_NAME],
        notes=report.findings(epochs, wider, threshold, memory, tsr),
    )
