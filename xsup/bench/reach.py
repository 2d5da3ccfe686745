"""Robin et al.'s reach study: how far in space and time a trained model looks.

Robin et al. (EGU 2024) shuffle the pixels at distance d around a target
pixel, and the frames at lag Δ before the prediction, and read the increase
of the prediction error: a ConvLSTM forecasting vegetation used about 5
pixels and 3 frames. Here the reach is planted
(:mod:`xsup.bench._reach_data`): the regression target is the mean of the
noise within ``radius`` pixels of a target pixel over the last ``lag``
frames. :func:`xsup.analysis.perturbation_analysis` on a trained model should
find that radius and that lag (within one), and the same analysis on a model
trained with explanation supervision (the planted window marked 1, the rest
-1, STES's loss over every frame) shows whether supervision changes how far
the model looks.

Two models: the ``convlstm`` backbone reading the hidden state at every
pixel (``readout="flatten"``) with the target at the centre of the frame,
as in a per-pixel forecast; and the ``cnn_gru`` backbone, which averages
its features over the frame and so needs the target pixel marked in the
input (a second channel), drawn anywhere in the frame.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xsup.bench._common import BenchResult, Progress, mean_std, mode_settings
from xsup.bench._reach_data import make_reach_sequences
from xsup.bench._stats import VERDICT_RULE, Claim, format_claims

__all__ = ["FULL", "MODELS", "QUICK", "ReachSettings", "TRAININGS", "run"]

#: Model label -> (estimator options, whether the target pixel is the centre of every frame).
MODELS: dict[str, tuple[dict[str, Any], bool]] = {
    "ConvLSTM": ({"module": "convlstm", "module__channels": 8, "module__hidden": (8,),
                  "module__readout": "flatten"}, True),
    "CNN+GRU": ({"module": "cnn_gru", "module__channels": (16,), "module__hidden": 16}, False),
}

#: Training label -> estimator options.
TRAININGS: dict[str, dict[str, Any]] = {
    "prediction only": {"loss": "none"},
    "explanation-supervised": {"loss": "stes", "interpolator": "none", "loss__decay": "none"},
}

ANALYSES = ("spatial", "temporal")
FIGURE_NAME = "reach_curves.png"
TEST_SEED_OFFSET = 10_000


@dataclass(frozen=True)
class ReachSettings:
    """The planted reach, the data sizes and the training of a run."""

    radius: int = 2
    lag: int = 3
    n_steps: int = 6
    size: int = 11
    n_train: int = 1000
    n_test: int = 500
    epochs: int = 20
    lr: float = 3e-3
    batch_size: int = 32
    sigma1: float = 1.0
    n_repeats: int = 5
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)


FULL = ReachSettings()
QUICK = ReachSettings(size=7, n_steps=4, radius=1, lag=2, n_train=48, n_test=32, epochs=1,
                      n_repeats=2, seeds=(0,))

#: (model, training) -> quantity -> one value (or curve) per seed.
Records = dict[tuple[str, str], dict[str, list[Any]]]


def _data(settings: ReachSettings, seed: int, centred: bool) -> tuple[Any, Any]:
    shape = {"radius": settings.radius, "lag": settings.lag, "n_steps": settings.n_steps,
             "size": settings.size, "centred": centred}
    return (make_reach_sequences(settings.n_train, random_state=seed, **shape),
            make_reach_sequences(settings.n_test, random_state=seed + TEST_SEED_OFFSET, **shape))


def _fit(settings: ReachSettings, model: str, training: str, seed: int, train: Any) -> Any:
    from xsup import ExplanationSupervisedRegressor

    options = {**MODELS[model][0], **TRAININGS[training]}
    if options["loss"] != "none":
        options["sigma1"] = settings.sigma1
    estimator = ExplanationSupervisedRegressor(
        explainer="gradcam", max_epochs=settings.epochs, lr=settings.lr,
        batch_size=settings.batch_size, train_split=None, verbose=0, random_state=seed, **options)
    return estimator.fit(train.X, train.y, train.E if options["loss"] != "none" else None)


def outside_share(increase: np.ndarray, positions: np.ndarray, planted: int) -> float:
    """Share of the (positive) error increase found beyond the planted reach.

    Examples
    --------
    >>> round(outside_share(np.array([0.5, 0.3, 0.1, -0.1]), np.array([0, 1, 2, 3]), planted=1), 4)
    0.1111
    """
    positive = np.maximum(increase, 0.0)
    total = positive.sum()
    return float(positive[positions > planted].sum() / total) if total > 0 else math.nan


def _record(records: Records, key: tuple[str, str], result: Any, r2: float,
            settings: ReachSettings) -> None:
    row = records.setdefault(key, {})
    row.setdefault("R2", []).append(r2)
    for analysis, planted in zip(ANALYSES, (settings.radius, settings.lag)):
        curve = getattr(result, analysis)
        row.setdefault(f"{analysis} reach", []).append(
            math.nan if curve.reach is None else float(curve.reach))
        row.setdefault(f"{analysis} outside share", []).append(
            outside_share(curve.increase, curve.positions, planted))
        row.setdefault(f"{analysis} increase", []).append(curve.increase.tolist())
        row.setdefault(f"{analysis} positions", [curve.positions.tolist()])


def run(out: Path, *, quick: bool = False, seeds: tuple[int, ...] | None = None) -> BenchResult:
    """Train both models with and without supervision for every seed; analyse their reach.

    The arguments are those of every benchmark's ``run`` (see :mod:`xsup.bench`);
    the result holds the reach table, the claims and every curve per seed.
    """
    from xsup.analysis import perturbation_analysis

    settings = mode_settings(FULL, QUICK, quick=quick, seeds=seeds)
    progress = Progress(len(settings.seeds) * len(MODELS) * len(TRAININGS) + 1)
    records: Records = {}
    for seed in settings.seeds:
        for model, (_, centred) in MODELS.items():
            train, test = _data(settings, seed, centred)
            for training in TRAININGS:
                progress.step(f"seed {seed}: {model}, {training}: fit and perturbation analysis")
                started = time.perf_counter()
                estimator = _fit(settings, model, training, seed, train)
                r2 = float(estimator.score(test.X, test.y))
                result = perturbation_analysis(
                    estimator, test.X, test.y, target_pixel=test.targets,
                    distances=range(settings.size // 2 + 1), n_repeats=settings.n_repeats,
                    random_state=seed)
                _record(records, (model, training), result, r2, settings)
                progress.note(f"    R2 {r2:.3f}, spatial reach {result.spatial_reach}, temporal "
                              f"reach {result.temporal_reach}  "
                              f"[{time.perf_counter() - started:.0f} s]")
    progress.step(f"figure {FIGURE_NAME}")
    out.mkdir(parents=True, exist_ok=True)
    _draw(records, settings, out / FIGURE_NAME)
    claims = _claims(records)
    return BenchResult(
        name="reach", title="Robin et al.'s perturbation analysis: a planted spatial and "
        "temporal reach", intro=_intro(settings),
        tables={"Reach found per seed, and the share of the error increase beyond the planted "
                "reach": _table(records, settings),
                "Recovered reach: mean over seeds with its 95% t interval (recovered when the "
                "interval lies within the planted value ± 1)": _recovery(records, settings),
                "Does explanation supervision change how far the models look? (paired over "
                "seeds)": format_claims(claims)},
        data={"records": {" / ".join(key): row for key, row in records.items()},
              "claims": [claim.to_dict() for claim in claims]},
        settings={**asdict(settings), "models": {k: v[0] for k, v in MODELS.items()},
                  "centred": {k: v[1] for k, v in MODELS.items()}, "trainings": TRAININGS},
        figures=[FIGURE_NAME], notes=f"## How the claims are decided\n\n{VERDICT_RULE}",
    )


def _reaches(values: list[float]) -> str:
    return ", ".join("none" if math.isnan(v) else f"{v:g}" for v in values)


def _table(records: Records, settings: ReachSettings) -> str:
    lines = ["| model | training | test R² | spatial reach per seed (planted "
             f"{settings.radius}) | temporal reach per seed (planted {settings.lag}) | spatial "
             "share beyond | temporal share beyond |", "|---|---|---|---|---|---|---|"]
    for (model, training), row in records.items():
        r2 = mean_std(row["R2"])
        shares = [mean_std(row[f"{a} outside share"]) for a in ANALYSES]
        lines.append(f"| {model} | {training} | {r2[0]:.3f} ± {r2[1]:.3f} | "
                     f"{_reaches(row['spatial reach'])} | {_reaches(row['temporal reach'])} | "
                     + " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in shares) + " |")
    return "\n".join(lines)


def recovery(values: list[float], planted: int) -> tuple[float, float, float, str]:
    """Mean reach, its 95% t interval, and whether the interval lies within ``planted ± 1``.

    A seed whose analysis found no reach (NaN) makes the reach not recovered.

    Examples
    --------
    >>> recovery([2.0, 2.0, 3.0, 2.0, 2.0], planted=2)[3]
    'recovered'
    >>> recovery([2.0, 5.0, 5.0, 4.0, 5.0], planted=2)[3]
    'not recovered'
    """
    from xsup.bench._stats import paired_comparison

    array = np.asarray(values, dtype=np.float64)
    if np.isnan(array).any() or array.size < 2:
        return float(np.nanmean(array)) if array.size else math.nan, math.nan, math.nan, \
            "not recovered"
    interval = paired_comparison(array, np.zeros_like(array))
    inside = planted - 1 <= interval.low and interval.high <= planted + 1
    return interval.effect, interval.low, interval.high, "recovered" if inside else "not recovered"


def _recovery(records: Records, settings: ReachSettings) -> str:
    lines = ["| model | training | spatial reach | temporal reach |", "|---|---|---|---|"]
    for (model, training), row in records.items():
        cells = []
        for analysis, planted in zip(ANALYSES, (settings.radius, settings.lag)):
            mean, low, high, verdict = recovery(row[f"{analysis} reach"], planted)
            interval = "n/a" if math.isnan(low) else f"[{low:.2f}, {high:.2f}]"
            verdict = f"**{verdict}**" if verdict == "recovered" else verdict
            cells.append(f"{mean:.2f} {interval} {verdict} (planted {planted})")
        lines.append(f"| {model} | {training} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _claims(records: Records) -> list[Claim]:
    """Supervised against prediction-only training, per model: far-field share and R²."""
    claims = []
    for model in MODELS:
        plain, supervised = records[(model, "prediction only")], records[
            (model, "explanation-supervised")]
        for analysis in ANALYSES:
            claims.append(Claim.check(
                f"{model}: supervision lowers the {analysis} share of the error increase beyond "
                "the planted reach", supervised[f"{analysis} outside share"],
                plain[f"{analysis} outside share"], lower_is_better=True))
        claims.append(Claim.check(f"{model}: supervision raises the test R²", supervised["R2"],
                                  plain["R2"]))
    return claims


def _draw(records: Records, settings: ReachSettings, path: Path) -> None:
    """Error increase (as a share of each curve's largest) against distance and lag."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2 * len(MODELS), 6.2), layout="constrained")
    axes = figure.subplots(len(ANALYSES), len(MODELS), squeeze=False)
    for column, model in enumerate(MODELS):
        for row, (analysis, planted) in enumerate(zip(ANALYSES, (settings.radius, settings.lag))):
            ax = axes[row, column]
            for training in TRAININGS:
                record = records[(model, training)]
                positions = np.asarray(record[f"{analysis} positions"][0])
                curves = np.asarray(record[f"{analysis} increase"], dtype=np.float64)
                scaled = curves / np.maximum(curves.max(axis=1, keepdims=True), 1e-12)
                mean, std = scaled.mean(axis=0), scaled.std(axis=0)
                line, = ax.plot(positions, mean, marker="o", label=training)
                ax.fill_between(positions, mean - std, mean + std, color=line.get_color(),
                                alpha=0.2, linewidth=0)
            ax.axvline(planted, color="crimson", linestyle="--", label=f"planted ({planted})")
            ax.axhline(0.0, color="grey", linewidth=0.8)
            ax.set_xticks(positions)
            ax.set_xlabel("distance d (pixels)" if analysis == "spatial" else
                          "lag Δ (frames before the prediction)")
            ax.set_ylabel("error increase / its largest")
            ax.set_title(f"{model}: {analysis}")
            ax.legend(fontsize="small")
    FigureCanvasAgg(figure).print_png(str(path))


def _intro(settings: ReachSettings) -> str:
    return f"""\
Data (`xsup.bench._reach_data`): {settings.n_steps} frames of {settings.size} x
{settings.size} pixels, two channels: white noise and a marker that is 1 at the target pixel.
Regression target: the noise averaged over the pixels within Chebyshev distance
{settings.radius} of the target pixel in the last {settings.lag} frames, scaled to unit
variance: the planted spatial reach is {settings.radius} pixels and the temporal reach
{settings.lag} frames. Per seed s: {settings.n_train} training sequences (`random_state=s`) and
{settings.n_test} test sequences (`random_state=s + {TEST_SEED_OFFSET}`). Seeds:
{', '.join(map(str, settings.seeds))}.

Models (`ExplanationSupervisedRegressor`, MSE, {settings.epochs} epochs, Adam lr
{settings.lr:g}, batch {settings.batch_size}, Grad-CAM on the frame encoder): `convlstm`
(encoder 8 channels, one ConvLSTM layer of 8, `readout="flatten"`: the head reads every
pixel's hidden state, like a per-pixel forecast) with the target at the centre of every
frame; `cnn_gru` (one residual block of 16 channels, GRU 16; it averages its features over
the frame, so it can only find the target through the marker) with the target drawn per
sample. Explanation-supervised: `loss="stes"` with `interpolator="none"` and
`loss__decay="none"` (every frame weighted fully), sigma1 = {settings.sigma1:g}, E = 1 in the
planted window and -1 everywhere else.

Analysis: `xsup.analysis.perturbation_analysis` on the test sequences with the per-sample
target pixels, distances 0 to {settings.size // 2}, lags 1 to {settings.n_steps}, shuffling
across samples, {settings.n_repeats} repeats, its default significance rule (a position counts
when its mean error increase exceeds 5% of the curve's largest and two standard errors). The
share beyond: the positive error increase at positions beyond the planted reach over the
positive increase at all positions."""
