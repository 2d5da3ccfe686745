"""Tables, claims and figures of the noisy-annotation benchmark (:mod:`xsup.bench.noise`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xsup.bench._common import format_table, mean_std
from xsup.bench._stats import VERDICT_RULE, Claim, format_claim_grid

__all__ = ["CORRUPTIONS_NAME", "DIGITS_NAME", "SEQUENCES_NAME", "SIZES_NAME", "Curves",
           "degradation", "draw_corruptions", "draw_curves", "draw_sizes", "make_report"]

CORRUPTIONS_NAME = "noise_corruptions.png"
DIGITS_NAME = "noise_digits.png"
SEQUENCES_NAME = "noise_sequences.png"
SIZES_NAME = "noise_training_sizes.png"

#: (kind, level) or (annotations, size) -> method -> metric -> one value per seed.
Curves = dict[tuple[str, Any], dict[str, dict[str, list[float]]]]

#: Levels drawn in the picture of the corruptions, by kind.
PICTURE_LEVELS = {"dilate": (0, 1, 2, 3), "erode": (0, 1, 2, 3), "boxes": (0, 1, 2, 3),
                  "shift": (0, 1, 2, 3), "drop": (0.0, 0.25, 0.5, 0.75),
                  "missing": (0.0, 0.25, 0.5, 0.75)}


def _at(curves: Curves, kind: str, level: Any, label: str, metric: str) -> list[float]:
    """Scores of one method at one level; level 0 is the exact-annotation fit.

    The baseline never sees E: its exact-annotation fit stands for every level.
    """
    key = ("exact", 0) if not level or label not in curves[(kind, level)] else (kind, level)
    return curves[key][label][metric]


def degradation(curves: Curves, kind: str, levels: Sequence[Any], label: str,
                metric: str) -> list[float]:
    """Per seed: the score at the highest level minus the score with exact annotations.

    Examples
    --------
    >>> curves = {("exact", 0): {"m": {"Acc": [0.9, 0.8]}}, ("drop", 0.5): {"m": {"Acc": [0.7, 0.7]}}}
    >>> [round(v, 3) for v in degradation(curves, "drop", (0.0, 0.5), "m", "Acc")]
    [-0.2, -0.1]
    """
    worst = _at(curves, kind, levels[-1], label, metric)
    exact = _at(curves, kind, 0, label, metric)
    return [float(a - b) for a, b in zip(worst, exact)]


def _level_table(curves: Curves, kinds: Mapping[str, Sequence[Any]], metric: str) -> str:
    """Rows: methods; columns: exact, then every level of every kind."""
    columns = {"exact": ("exact", 0)}
    columns.update({f"{kind} {level:g}": (kind, level) for kind, levels in kinds.items()
                    for level in levels if level})
    labels = list(curves[("exact", 0)])
    rows = {label: {name: _at(curves, kind, level, label, metric)
                    for name, (kind, level) in columns.items()} for label in labels}
    return format_table(rows, list(columns), digits=3)


def _gap_grid(curves: Curves, kinds: Mapping[str, Sequence[Any]], first: str, second: str,
              metric: str) -> dict[str, dict[str, Claim]]:
    """``first - second`` on ``metric`` at every level of every kind, one row per kind."""
    return {f"{first} - {second}, {kind} ({', '.join(f'{v:g}' for v in levels)})": {
        f"level {position}": Claim.check(f"{first} {metric} above {second}'s, {kind} {level:g}",
                                         _at(curves, kind, level, first, metric),
                                         _at(curves, kind, level, second, metric))
        for position, level in enumerate(levels)} for kind, levels in kinds.items()}


def _degradation_grid(curves: Curves, kinds: Mapping[str, Sequence[Any]], favoured: str,
                      others: Sequence[str], metric: str) -> dict[str, dict[str, Claim]]:
    """Whether ``favoured`` loses less ``metric`` than each other method, per kind."""
    return {f"{favoured} vs {other}": {
        kind: Claim.check(f"{favoured} loses less {metric} than {other} from exact to {kind} "
                          f"{levels[-1]:g}", degradation(curves, kind, levels, favoured, metric),
                          degradation(curves, kind, levels, other, metric))
        for kind, levels in kinds.items()} for other in others}


def _size_grid(sizes: Curves, annotations: str, labels: Sequence[str]
               ) -> dict[str, dict[str, Claim]]:
    """Each method's accuracy minus the baseline's (exact annotations) at every size."""
    sizes_seen = sorted({size for name, size in sizes if name == annotations})
    return {f"{label} - Baseline": {
        f"{size} images": Claim.check(
            f"{label} accuracy above the baseline's, {size} images, {annotations} annotations",
            sizes[(annotations, size)][label]["Accuracy"],
            sizes[("exact", size)]["Baseline"]["Accuracy"])
        for size in sizes_seen} for label in labels}


def make_report(digits: Curves, sequences: Curves, sizes: Curves, settings: Any
                ) -> tuple[dict[str, str], list[Claim], str]:
    """The tables of results.md, every claim (for results.json) and the closing notes."""
    tables = {}
    for metric in ("Accuracy", "IoU"):
        tables[f"Decoy digits: test {metric} by corruption"] = _level_table(
            digits, settings.digit_kinds, metric)
    for metric in ("TSS", "IoU"):
        tables[f"Raster sequences: test {metric} by corruption"] = _level_table(
            sequences, settings.sequence_kinds, metric)
    labels = [label for label in sizes[("exact", min(settings.training_sizes))]]
    for name in ("exact", "corrupted"):
        rows = {label: {f"{size} images": sizes[(name, size)][label]["Accuracy"]
                        for size in settings.training_sizes}
                for label in labels if label in sizes[(name, settings.training_sizes[0])]}
        tables[f"Small training sets: test accuracy, {name} annotations"] = format_table(
            rows, [f"{size} images" for size in settings.training_sizes])
    grids = {
        "Decoy digits: RES minus GRADIA accuracy at each level (level 0 = exact), points":
            ({**_gap_grid(digits, settings.digit_kinds, "RES-G", "GRADIA", "Accuracy"),
              **_gap_grid(digits, settings.digit_kinds, "RES-L", "GRADIA", "Accuracy")}, 100.0),
        "Decoy digits: does RES lose less accuracy from exact annotations to the worst level? "
        "(difference of the losses, points)":
            ({**_degradation_grid(digits, settings.digit_kinds, "RES-G",
                                  ("GRADIA", "HAICS", "RRR"), "Accuracy"),
              **_degradation_grid(digits, settings.digit_kinds, "RES-L",
                                  ("GRADIA", "HAICS", "RRR"), "Accuracy")}, 100.0),
        "Decoy digits: the same for IoU": (
            _degradation_grid(digits, settings.digit_kinds, "RES-G",
                              ("GRADIA", "HAICS", "RRR"), "IoU"), 1.0),
        "Raster sequences: RES-G minus GRADIA TSS at each level":
            (_gap_grid(sequences, settings.sequence_kinds, "RES-G", "GRADIA", "TSS"), 1.0),
        "Raster sequences: does RES-G lose less TSS than the others from exact to the worst "
        "level?": (_degradation_grid(sequences, settings.sequence_kinds, "RES-G",
                                      ("GRADIA", "STES"), "TSS"), 1.0),
        "Small training sets, exact annotations: accuracy minus the baseline's, points":
            (_size_grid(sizes, "exact", [label for label in labels if label != "Baseline"]),
             100.0),
        f"Small training sets, {settings.size_corruption[0]} {settings.size_corruption[1]:g} "
        "annotations: accuracy minus the baseline's (exact-annotation baseline), points":
            (_size_grid(sizes, "corrupted", [label for label in labels if label != "Baseline"]),
             100.0),
    }
    claims = []
    for heading, (grid, scale) in grids.items():
        tables[f"{heading} (effect [95% interval] verdict)"] = format_claim_grid(
            grid, digits=1 if scale == 100.0 else 3, scale=scale)
        claims += [claim for row in grid.values() for claim in row.values()]
    notes = f"## How the claims are decided\n\n{VERDICT_RULE}"
    return tables, claims, notes


def _diverging(ax: Any, image: np.ndarray) -> None:
    """An annotation: 1 red, -1 blue, 0 white, NaN (missing) grey."""
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(["#2166ac", "#ffffff", "#b2182b"]).with_extremes(bad="#bbbbbb")
    ax.imshow(np.ma.masked_invalid(image), cmap=cmap, vmin=-1.5, vmax=1.5,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def draw_corruptions(settings: Any, path: Path) -> None:
    """Every kind at four levels: on one training digit, and ``missing`` on one sequence."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from xsup.datasets import corrupt_annotations, load_decoy_digits, make_spatiotemporal_events

    digit = load_decoy_digits(random_state=0, train_size=10)[2][:1]
    sequence = make_spatiotemporal_events(4, random_state=0)[2]
    figure = Figure(figsize=(8.0, 1.9 * len(PICTURE_LEVELS)), layout="constrained")
    axes = figure.subplots(len(PICTURE_LEVELS), 4, squeeze=False)
    for row, (kind, levels) in enumerate(PICTURE_LEVELS.items()):
        for column, level in enumerate(levels):
            ax = axes[row, column]
            if kind == "missing":  # the four frames of a sequence side by side
                frames = corrupt_annotations(sequence, kind, level, random_state=1)[0]
                _diverging(ax, np.concatenate(list(frames), axis=1))
            else:
                _diverging(ax, corrupt_annotations(digit, kind, level, random_state=2)[0])
            ax.set_title(f"{kind} {level:g}", fontsize="small")
    figure.suptitle("corrupt_annotations: red 1 (should matter), blue -1 (should not), "
                    "grey missing", fontsize="small")
    FigureCanvasAgg(figure).print_png(str(path))


def draw_curves(curves: Curves, kinds: Mapping[str, Sequence[Any]], metrics: Sequence[str],
                title: str, path: Path) -> None:
    """Mean ± std of each method against the level; one panel per metric and kind."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = list(curves[("exact", 0)])
    figure = Figure(figsize=(3.6 * len(kinds) + 1.4, 2.8 * len(metrics)), layout="constrained")
    axes = figure.subplots(len(metrics), len(kinds), squeeze=False)
    for row, metric in enumerate(metrics):
        for column, (kind, levels) in enumerate(kinds.items()):
            ax = axes[row, column]
            for label in labels:
                stats = [mean_std(_at(curves, kind, level, label, metric)) for level in levels]
                ax.errorbar(levels, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o",
                            capsize=3, linestyle="--" if label == "Baseline" else "-",
                            label=label)
            ax.set_xticks(levels)
            ax.set_xlabel(f"{kind} level")
            ax.set_ylabel(f"test {metric}")
    figure.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper",
                  fontsize="small")
    figure.suptitle(f"{title}: training annotations made worse, exact test annotations")
    FigureCanvasAgg(figure).print_png(str(path))


def draw_sizes(sizes: Curves, settings: Any, path: Path) -> None:
    """RES Fig. 2's small-data regime: accuracy against the training size, both annotations."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9.5, 3.3), layout="constrained")
    axes = figure.subplots(1, 2)
    kind, level = settings.size_corruption
    for ax, name in zip(axes, ("exact", "corrupted")):
        for label in sizes[("exact", settings.training_sizes[0])]:
            source = name if label in sizes[(name, settings.training_sizes[0])] else "exact"
            stats = [mean_std(sizes[(source, size)][label]["Accuracy"])
                     for size in settings.training_sizes]
            ax.errorbar(settings.training_sizes, [m for m, _ in stats],
                        yerr=[s for _, s in stats], marker="o", capsize=3,
                        linestyle="--" if label == "Baseline" else "-", label=label)
        ax.set_xscale("log")
        ax.set_xticks(settings.training_sizes, [str(s) for s in settings.training_sizes])
        ax.minorticks_off()
        ax.set_xlabel("training images (all classes)")
        ax.set_ylabel("decoy-shuffled test accuracy")
        ax.set_title("exact annotations" if name == "exact" else
                     f"{kind} {level:g} annotations")
    figure.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper",
                  fontsize="small")
    FigureCanvasAgg(figure).print_png(str(path))
