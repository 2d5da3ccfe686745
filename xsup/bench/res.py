"""RES Table 1 and Fig. 2 on decoy digits: does explanation supervision defeat a shortcut?

Six models share one residual CNN and one Grad-CAM explainer: the baseline
(prediction loss only), GRADIA, HAICS, RES-G, RES-L and RRR. They train on
:func:`xsup.datasets.load_decoy_digits`, whose training images carry a patch
that codes the label, with annotations marking the strokes 1 and the patch
-1; they are scored on test images whose patch is shuffled, for prediction
(accuracy) and explanation (IoU, explanation precision, recall and F1,
macro-averaged per image as RES reports). Table 1 uses 10 training images per
class (100 in all, RES's training size); Fig. 2 repeats it for 10, 20, 50
and 100 images per class.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from xsup.bench._common import BenchResult, Progress, Scores, format_table, mean_std

__all__ = ["FULL", "METHODS", "METRICS", "QUICK", "RESBenchSettings", "run"]

METRICS = ("Accuracy", "IoU", "Precision", "Recall", "F1")

#: Table label -> estimator parameters.
METHODS = {
    "Baseline": {"loss": "none"},
    "GRADIA": {"loss": "gradia"},
    "HAICS": {"loss": "haics"},
    "RES-G": {"loss": "res", "loss__imputation": "gaussian"},
    "RES-L": {"loss": "res", "loss__imputation": "learnable"},
    "RRR": {"loss": "rrr"},
}

N_CLASSES = 10
CURVES_NAME = "res_training_sizes.png"
SALIENCY_NAME = "res_saliency.png"


@dataclass(frozen=True)
class RESBenchSettings:
    """Sizes and hyperparameters of a run (chosen on a validation split; see results.md)."""

    per_class: tuple[int, ...]
    epochs: int
    seeds: tuple[int, ...] = (0, 1, 2)
    table_per_class: int = 10
    lr: float = 3e-3
    batch_size: int = 32
    sigma1_grid: tuple[float, ...] = (0.1, 0.3, 1.0)
    alpha: float = 0.0
    test_size: int = 500
    validation_seed: int = 100


FULL = RESBenchSettings(per_class=(10, 20, 50, 100), epochs=30)
QUICK = RESBenchSettings(per_class=(2, 4), table_per_class=2, epochs=2, seeds=(0,), test_size=100,
                         sigma1_grid=(0.3, 1.0))


def _fit_and_evaluate(settings: RESBenchSettings, params: dict[str, Any], seed: int,
                      data: tuple[np.ndarray, ...]) -> tuple[dict[str, float], np.ndarray]:
    from xsup import ExplanationSupervisedClassifier
    from xsup.metrics import explanation_iou, explanation_precision_recall_f1

    X, y, E, X_test, y_test, E_test = data
    model = ExplanationSupervisedClassifier(
        module="cnn", explainer="gradcam", alpha=settings.alpha,
        max_epochs=settings.epochs, lr=settings.lr, batch_size=settings.batch_size,
        train_split=None, verbose=0, random_state=seed, **params,
    )
    model.fit(X, y, E)
    saliency = model.explain(X_test)
    precision, recall, f1 = explanation_precision_recall_f1(saliency, E_test, average="macro")
    scores = {
        "Accuracy": model.score(X_test, y_test),
        "IoU": explanation_iou(saliency, E_test, average="macro"),
        "Precision": precision, "Recall": recall, "F1": f1,
    }
    return {name: float(value) for name, value in scores.items()}, saliency


def _choose_sigma1(settings: RESBenchSettings, progress: Progress) -> dict[str, float]:
    """Pick each explanation loss's sigma1 from the grid by accuracy on the validation split."""
    from xsup.datasets import load_decoy_digits

    data = load_decoy_digits(random_state=settings.validation_seed,
                             train_size=N_CLASSES * settings.table_per_class,
                             test_size=settings.test_size)
    chosen = {}
    for label, params in METHODS.items():
        if params["loss"] == "none":
            continue
        accuracy = {}
        for sigma1 in settings.sigma1_grid:
            progress.step(f"validation split: {label} with sigma1 = {sigma1:g}")
            row, _ = _fit_and_evaluate(settings, {**params, "sigma1": sigma1},
                                       settings.validation_seed, data)
            accuracy[sigma1] = row["Accuracy"]
        chosen[label] = max(settings.sigma1_grid, key=accuracy.__getitem__)
        progress.note(f"    sigma1 = {chosen[label]:g} (validation accuracy "
                      + ", ".join(f"{s:g}: {a:.3f}" for s, a in accuracy.items()) + ")")
    return chosen


def _draw_curves(curves: dict[int, Scores], per_class: tuple[int, ...], path: Path) -> None:
    """RES Fig. 2: accuracy, IoU and explanation F1 over the training size, mean ± std."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = ("Accuracy", "IoU", "F1")
    figure = Figure(figsize=(4.0 * len(panels) + 1.2, 3.2), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, metric in zip(axes, panels):
        for label in METHODS:
            stats = [mean_std(curves[size][label][metric]) for size in per_class]
            style = "--" if label == "Baseline" else "-"
            ax.errorbar(per_class, [m for m, _ in stats], yerr=[s for _, s in stats],
                        marker="o", capsize=3, linestyle=style, label=label)
        ax.set_xscale("log")
        ax.set_xticks(per_class, [str(size) for size in per_class])
        ax.minorticks_off()
        ax.set_xlabel("training images per class")
        ax.set_title(f"test {metric}" if metric != "F1" else "test explanation F1")
    figure.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper",
                  fontsize="small")
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=100)


def _intro(settings: RESBenchSettings, sigma1: dict[str, float]) -> str:
    return f"""\
Data: `load_decoy_digits` (scikit-learn's 8 x 8 digits, 10 classes). Every training image
carries a 2 x 2 patch (at the data set's default corner) whose binary pattern codes its label;
E marks the strokes 1 (should matter) and the patch -1 (should not matter). Per seed s
(`random_state=s`): a stratified split with {settings.test_size} test images, whose patch
codes the label of another test image (shuffled: it carries no information), and a stratified
training set of n images per class. Table 1: n = {settings.table_per_class} ({N_CLASSES *
settings.table_per_class} training images, RES's training size). Fig. 2: n in
{', '.join(map(str, settings.per_class))} (training sizes are per class). Seeds:
{', '.join(map(str, settings.seeds))}; the seed also initialises the model.

Model: the residual `cnn` backbone (channels (16, 32)), Grad-CAM on its `encoder` (4 x 4,
upsampled to 8 x 8) for every method, {settings.epochs} epochs, Adam lr {settings.lr:g}, batch
{settings.batch_size}, alpha = {settings.alpha:g}. RES-G blurs the positive mask with a 3 x 3
Gaussian; RES-L learns that convolution. RRR penalises squared input gradients on the -1 cells.
Each explanation loss's sigma1 is chosen from {{{', '.join(f'{s:g}' for s in settings.sigma1_grid)}}}
by accuracy on a validation split (`random_state={settings.validation_seed}`,
{N_CLASSES * settings.table_per_class} training images), the same for every training size:
{', '.join(f'{label} {value:g}' for label, value in sigma1.items())}. The validation split's test
images come from the same pool of 1797 digits, so they overlap the test images of the seeds
reported here; the number of epochs was also picked there.

Metrics on the decoy-shuffled test images: accuracy; explanation IoU (Grad-CAM > 0.5 against
the strokes), explanation precision, recall and F1 as RES §4.1 defines them (false positives =
attended cells marked -1), macro-averaged over images as RES reports. Mean ± sample standard
deviation over the seeds, in percent as in RES Table 1; the best mean of each column in bold."""


def _findings(curves: dict[int, Scores], table_size: int) -> str:
    """Accuracy gain of each supervised loss over the baseline, per training size."""
    sizes = sorted(curves)
    lines = ["## The issue's claims, checked on the mean accuracy", "",
             "Decoy-shuffled test accuracy minus the baseline's, in points (claim: every "
             "supervised loss above 0, RES-G, RES-L and RRR above 10):", "",
             "| method | " + " | ".join(f"{size} per class" for size in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    verdicts = []
    for label in METHODS:
        if label == "Baseline":
            continue
        needed = 10.0 if label in ("RES-G", "RES-L", "RRR") else 0.0
        gains = []
        for size in sizes:
            base = float(np.mean(curves[size]["Baseline"]["Accuracy"]))
            gains.append(100 * (float(np.mean(curves[size][label]["Accuracy"])) - base))
        lines.append(f"| {label} | " + " | ".join(f"{gain:+.1f}" for gain in gains) + " |")
        at_table = gains[sizes.index(table_size)]
        verdict = "holds" if at_table > needed else "does not hold"
        everywhere = sum(gain > needed for gain in gains)
        verdicts.append(f"- {verdict} for {label} at {table_size} per class ({at_table:+.1f} "
                        f"points, needed > {needed:g}); above the bar at {everywhere} of "
                        f"{len(sizes)} training sizes")
    return "\n".join([*lines, "", *verdicts])


def run(out: Path, *, quick: bool = False, seeds: tuple[int, ...] | None = None) -> BenchResult:
    """Train every method at every training size for every seed; draw Fig. 2 and overlays.

    Parameters
    ----------
    out : pathlib.Path
        Folder of the figures (created if needed).
    quick : bool, default=False
        CI-sized run (a few seconds); its numbers mean nothing.
    seeds : tuple of int, optional
        Seeds to run instead of the mode's.

    Returns
    -------
    BenchResult
        Table 1, one table per training size, and the raw scores.
    """
    from xsup.datasets import load_decoy_digits

    settings = QUICK if quick else FULL
    if seeds is not None:
        settings = replace(settings, seeds=tuple(seeds))
    sizes = tuple(sorted(set(settings.per_class) | {settings.table_per_class}))
    n_losses = sum(params["loss"] != "none" for params in METHODS.values())
    progress = Progress(len(settings.seeds) * len(sizes) * len(METHODS) + 2
                        + n_losses * len(settings.sigma1_grid))
    sigma1 = _choose_sigma1(settings, progress)
    curves: dict[int, Scores] = {
        size: {label: {metric: [] for metric in METRICS} for label in METHODS} for size in sizes
    }
    figure_maps: dict[str, np.ndarray] = {}
    figure_data: tuple[np.ndarray, ...] = ()
    for seed in settings.seeds:
        for size in sizes:
            data = load_decoy_digits(random_state=seed, train_size=N_CLASSES * size,
                                     test_size=settings.test_size)
            for label, params in METHODS.items():
                progress.step(f"seed {seed}, {size} images per class: fitting {label}")
                started = time.perf_counter()
                weighted = {**params, "sigma1": sigma1[label]} if label in sigma1 else params
                row, saliency = _fit_and_evaluate(settings, weighted, seed, data)
                for metric in METRICS:
                    curves[size][label][metric].append(row[metric])
                progress.note("    " + "  ".join(f"{m} {row[m]:.3f}" for m in METRICS)
                              + f"  [{time.perf_counter() - started:.0f} s fit]")
                if seed == settings.seeds[0] and size == settings.table_per_class:
                    figure_maps[label] = saliency
                    figure_data = data[3:]
    out.mkdir(parents=True, exist_ok=True)
    progress.step(f"figure {CURVES_NAME}")
    _draw_curves(curves, settings.per_class, out / CURVES_NAME)
    progress.step(f"figure {SALIENCY_NAME}")
    from xsup.plot import plot_saliency_overlays

    X_test, _, E_test = figure_data
    plot_saliency_overlays(X_test, figure_maps, E_test, index=0, path=out / SALIENCY_NAME)
    table = curves[settings.table_per_class]
    tables = {f"Table 1: {N_CLASSES * settings.table_per_class} training images "
              f"({settings.table_per_class} per class), percent": format_table(
                  table, METRICS, digits=2, scale=100.0)}
    for size in settings.per_class:
        if size == settings.table_per_class:
            continue  # Table 1 already shows it
        tables[f"Fig. 2 data: {size} training images per class, percent"] = format_table(
            curves[size], METRICS, digits=2, scale=100.0)
    return BenchResult(
        name="res", title="RES Table 1 and Fig. 2 on decoy digits",
        intro=_intro(settings, sigma1), tables=tables,
        data={"metrics": list(METRICS), "training_sizes_per_class": list(sizes),
              "scores": {str(size): scores for size, scores in curves.items()},
              "figure": {"file": SALIENCY_NAME, "seed": settings.seeds[0], "test_index": 0}},
        settings={**asdict(settings), "methods": METHODS, "sigma1": sigma1},
        figures=[CURVES_NAME, SALIENCY_NAME],
        notes=_findings(curves, settings.table_per_class),
    )
