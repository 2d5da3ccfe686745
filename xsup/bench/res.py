"""RES Table 1 and Fig. 2 on decoy digits: does explanation supervision defeat a shortcut?

Six models share one residual CNN and one Grad-CAM explainer: the baseline
(prediction loss only), GRADIA, HAICS, RES-G, RES-L and RRR. They train on
:func:`xsup.datasets.load_decoy_digits`, whose training images carry a patch
that codes the label, with annotations marking the strokes 1 and the patch
-1; they are scored on test images whose patch is shuffled, for prediction
(accuracy) and explanation (IoU, explanation precision, recall and F1,
macro-averaged per image as RES reports). Table 1 uses 10 training images per
class (100 in all, RES's training size); Fig. 2 repeats it for 10, 20, 50
and 100 images per class. Each loss's sigma1 is chosen per seed by accuracy on
validation images held out of that seed's decoy-shuffled test images, and
each claim is decided by a paired comparison over the seeds.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xsup.bench._common import (
    BenchResult,
    Progress,
    Scores,
    format_table,
    mean_std,
    mode_settings,
)
from xsup.bench._stats import VERDICT_RULE, Claim, format_claim_grid, format_claims

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
    """Sizes and hyperparameters of a run.

    ``test_size`` decoy-shuffled images are drawn per seed and training size;
    ``validation_size`` of them choose sigma1 and the rest are the test set.
    """

    per_class: tuple[int, ...]
    epochs: int
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    table_per_class: int = 10
    lr: float = 3e-3
    batch_size: int = 32
    sigma1_grid: tuple[float, ...] = (0.1, 0.3, 1.0)
    alpha: float = 0.0
    test_size: int = 500
    validation_size: int = 200


FULL = RESBenchSettings(per_class=(10, 20, 50, 100), epochs=30)
QUICK = RESBenchSettings(per_class=(2, 4), table_per_class=2, epochs=2, seeds=(0,), test_size=100,
                         validation_size=40, sigma1_grid=(0.3, 1.0))


def split_data(settings: RESBenchSettings, seed: int, per_class: int) -> tuple[np.ndarray, ...]:
    """Training images, validation images and test images of one seed and training size.

    Returns ``X, y, E`` of each, in that order (nine arrays); the validation
    and test images are disjoint, stratified parts of the decoy-shuffled test
    images of :func:`xsup.datasets.load_decoy_digits`.
    """
    from sklearn.model_selection import train_test_split

    from xsup.datasets import load_decoy_digits

    X, y, E, X_held, y_held, E_held = load_decoy_digits(
        random_state=seed, train_size=N_CLASSES * per_class, test_size=settings.test_size)
    X_val, X_test, y_val, y_test, E_val, E_test = train_test_split(
        X_held, y_held, E_held, train_size=settings.validation_size, stratify=y_held,
        random_state=seed)
    return X, y, E, X_val, y_val, E_val, X_test, y_test, E_test


def fit_model(settings: RESBenchSettings, params: dict[str, Any], seed: int, X: np.ndarray,
              y: np.ndarray, E: np.ndarray) -> Any:
    """The residual CNN with Grad-CAM, trained with one method's parameters."""
    from xsup import ExplanationSupervisedClassifier

    model = ExplanationSupervisedClassifier(
        module="cnn", explainer="gradcam", alpha=settings.alpha,
        max_epochs=settings.epochs, lr=settings.lr, batch_size=settings.batch_size,
        train_split=None, verbose=0, random_state=seed, **params,
    )
    return model.fit(X, y, E)


def evaluate(model: Any, X: np.ndarray, y: np.ndarray, E: np.ndarray
             ) -> tuple[dict[str, float], np.ndarray]:
    """Accuracy and the macro-averaged explanation scores of RES Table 1, and the maps."""
    from xsup.metrics import explanation_iou, explanation_precision_recall_f1

    saliency = model.explain(X)
    precision, recall, f1 = explanation_precision_recall_f1(saliency, E, average="macro")
    scores = {
        "Accuracy": model.score(X, y),
        "IoU": explanation_iou(saliency, E, average="macro"),
        "Precision": precision, "Recall": recall, "F1": f1,
    }
    return {name: float(value) for name, value in scores.items()}, saliency


def _fit_chosen(settings: RESBenchSettings, label: str, seed: int, data: tuple[np.ndarray, ...],
                sigma1: dict[str, float], progress: Progress) -> Any:
    """Fit one method; at the table size, pick its sigma1 by validation accuracy first.

    ``sigma1`` maps each explanation loss to its value for this seed; a loss
    missing from it gets one fit per grid value and the most accurate on the
    validation images is kept (and recorded in ``sigma1``).
    """
    params = METHODS[label]
    X, y, E, X_val, y_val, _ = data[:6]
    if params["loss"] == "none":
        return fit_model(settings, params, seed, X, y, E)
    if label in sigma1:
        return fit_model(settings, {**params, "sigma1": sigma1[label]}, seed, X, y, E)
    candidates = {value: fit_model(settings, {**params, "sigma1": value}, seed, X, y, E)
                  for value in settings.sigma1_grid}
    accuracy = {value: model.score(X_val, y_val) for value, model in candidates.items()}
    sigma1[label] = max(settings.sigma1_grid, key=accuracy.__getitem__)
    progress.note(f"    sigma1 = {sigma1[label]:g} (validation accuracy "
                  + ", ".join(f"{s:g}: {a:.3f}" for s, a in accuracy.items()) + ")")
    return candidates[sigma1[label]]


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


def _intro(settings: RESBenchSettings, sigma1: dict[str, list[float]]) -> str:
    chosen = "; ".join(f"{label} {', '.join(f'{v:g}' for v in values)}"
                       for label, values in sigma1.items())
    test = settings.test_size - settings.validation_size
    return f"""\
Data: `load_decoy_digits` (scikit-learn's 8 x 8 digits, 10 classes). Every training image
carries a 2 x 2 patch (at the data set's default corner) whose binary pattern codes its label;
E marks the strokes 1 (should matter) and the patch -1 (should not matter). Per seed s and
training size (`random_state=s`): a stratified training set of n images per class and
{settings.test_size} held-out images whose patch codes the label of another held-out image
(shuffled: it carries no information), split (stratified, seeded) into
{settings.validation_size} validation and {test} test images. Table 1: n =
{settings.table_per_class} ({N_CLASSES * settings.table_per_class} training images, RES's
training size). Fig. 2: n in {', '.join(map(str, settings.per_class))} (training sizes are per
class). Seeds: {', '.join(map(str, settings.seeds))}; the seed also initialises the model.

Model: the residual `cnn` backbone (channels (16, 32)), Grad-CAM on its `encoder` (4 x 4,
upsampled to 8 x 8) for every method, {settings.epochs} epochs, Adam lr {settings.lr:g}, batch
{settings.batch_size}, alpha = {settings.alpha:g}. RES-G blurs the positive mask with a 3 x 3
Gaussian; RES-L learns that convolution. RRR penalises squared input gradients on the -1 cells.
Each explanation loss's sigma1 is chosen per seed from
{{{', '.join(f'{s:g}' for s in settings.sigma1_grid)}}} by accuracy on that seed's validation
images at the Table 1 size, and kept for the other sizes (per seed: {chosen}). The test images
never choose anything; the epochs and the learning rate were fixed in earlier runs on a split
whose images overlap these test images (every split draws from the same 1797 digits).

Metrics on the decoy-shuffled test images: accuracy; explanation IoU (Grad-CAM > 0.5 against
the strokes), explanation precision, recall and F1 as RES §4.1 defines them (false positives =
attended cells marked -1), macro-averaged over images as RES reports. Mean ± sample standard
deviation over the seeds, in percent as in RES Table 1; the best mean of each column in bold."""


def _claims(curves: dict[int, Scores], table_size: int) -> tuple[list[Claim], str]:
    """Table 1's orderings, and every loss against the baseline at every size (RES Fig. 2)."""
    table = curves[table_size]
    claims = [Claim.check(f"{label} accuracy above the baseline's", table[label]["Accuracy"],
                          table["Baseline"]["Accuracy"]) for label in METHODS if label != "Baseline"]
    for res in ("RES-G", "RES-L"):
        for other in ("GRADIA", "HAICS"):
            claims += [Claim.check(f"{res} {metric} above {other}'s", table[res][metric],
                                   table[other][metric]) for metric in ("Accuracy", "IoU", "F1")]
    grid = {
        f"{label} - Baseline": {
            f"{size} per class": Claim.check("", curves[size][label]["Accuracy"],
                                             curves[size]["Baseline"]["Accuracy"])
            for size in sorted(curves)}
        for label in METHODS if label != "Baseline"
    }
    grid.update({
        f"{res} - {other}": {
            f"{size} per class": Claim.check("", curves[size][res]["Accuracy"],
                                             curves[size][other]["Accuracy"])
            for size in sorted(curves)}
        for res in ("RES-G", "RES-L") for other in ("GRADIA", "HAICS")
    })
    return claims, format_claim_grid(grid, first_column="accuracy difference", digits=1,
                                     scale=100.0)


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
        Table 1, one table per training size, the claims and the raw scores.
    """
    settings = mode_settings(FULL, QUICK, quick=quick, seeds=seeds)
    sizes = (settings.table_per_class,
             *sorted(set(settings.per_class) - {settings.table_per_class}))
    progress = Progress(len(settings.seeds) * len(sizes) * len(METHODS) + 2)
    curves: dict[int, Scores] = {
        size: {label: {metric: [] for metric in METRICS} for label in METHODS} for size in sizes
    }
    chosen: dict[str, list[float]] = {label: [] for label, p in METHODS.items()
                                      if p["loss"] != "none"}
    figure_maps: dict[str, np.ndarray] = {}
    figure_data: tuple[np.ndarray, ...] = ()
    for seed in settings.seeds:
        sigma1: dict[str, float] = {}
        for size in sizes:
            data = split_data(settings, seed, size)
            for label in METHODS:
                progress.step(f"seed {seed}, {size} images per class: fitting {label}")
                started = time.perf_counter()
                model = _fit_chosen(settings, label, seed, data, sigma1, progress)
                row, saliency = evaluate(model, *data[6:])
                for metric in METRICS:
                    curves[size][label][metric].append(row[metric])
                progress.note("    " + "  ".join(f"{m} {row[m]:.3f}" for m in METRICS)
                              + f"  [{time.perf_counter() - started:.0f} s]")
                if seed == settings.seeds[0] and size == settings.table_per_class:
                    figure_maps[label] = saliency
                    figure_data = data[6:]
        for label, value in sigma1.items():
            chosen[label].append(value)
    out.mkdir(parents=True, exist_ok=True)
    progress.step(f"figure {CURVES_NAME}")
    _draw_curves(curves, tuple(sorted(settings.per_class)), out / CURVES_NAME)
    progress.step(f"figure {SALIENCY_NAME}")
    from xsup.plot import plot_saliency_overlays

    X_test, _, E_test = figure_data
    plot_saliency_overlays(X_test, figure_maps, E_test, index=0, path=out / SALIENCY_NAME)
    table = curves[settings.table_per_class]
    tables = {f"Table 1: {N_CLASSES * settings.table_per_class} training images "
              f"({settings.table_per_class} per class), percent": format_table(
                  table, METRICS, digits=2, scale=100.0)}
    for size in sorted(settings.per_class):
        if size == settings.table_per_class:
            continue  # Table 1 already shows it
        tables[f"Fig. 2 data: {size} training images per class, percent"] = format_table(
            curves[size], METRICS, digits=2, scale=100.0)
    claims, grid = _claims(curves, settings.table_per_class)
    tables["Table 1's claims: paired differences over seeds, points"] = format_claims(
        claims, digits=1, scale=100.0)
    tables["Fig. 2: accuracy differences per training size, points (effect [95% interval] "
           "verdict)"] = grid
    return BenchResult(
        name="res", title="RES Table 1 and Fig. 2 on decoy digits",
        intro=_intro(settings, chosen), tables=tables,
        data={"metrics": list(METRICS), "training_sizes_per_class": sorted(sizes),
              "scores": {str(size): scores for size, scores in sorted(curves.items())},
              "sigma1_per_seed": chosen,
              "claims": [claim.to_dict() for claim in claims],
              "figure": {"file": SALIENCY_NAME, "seed": settings.seeds[0], "test_index": 0}},
        settings={**asdict(settings), "methods": METHODS},
        figures=[CURVES_NAME, SALIENCY_NAME],
        notes=f"## How the claims are decided\n\n{VERDICT_RULE}",
    )
