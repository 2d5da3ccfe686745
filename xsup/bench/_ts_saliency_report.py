"""Tables, figures and verdicts of the time-series saliency benchmark (:mod:`xsup.bench.ts_saliency`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xsup.bench._common import format_table, mean_std
from xsup.bench._stats import VERDICT_RULE, Claim, format_claims

MAPS_NAME = "ts_saliency_maps.png"
ACCURACY_DROP_NAME = "ts_accuracy_drop.png"
PRECISION_RECALL_NAME = "ts_precision_recall.png"
SGT_NAME = "sgt_tcn_gradient.png"
METRICS = ("AUPR", "AUP", "AUR", "AUC")
RANDOM = "Random"

#: Table label -> the loss of the training it names.
TRAININGS = {"Trad.": "none", "Sal.": "sgt"}

#: (process, data set, architecture, training) -> method -> metric -> one value per seed.
Results = Mapping[tuple[str, str, str, str], Mapping[str, Mapping[str, list[float]]]]


def differences(results: Results, key: tuple[str, str, str, str], method: str,
                metric: str) -> list[float]:
    """A method's score minus the random control's, per seed, on one model (SGT eq. 7-8).

    Examples
    --------
    >>> scores = {"Gradient": {"AUP": [0.5, 0.7]}, "Random": {"AUP": [0.25, 0.5]}}
    >>> differences({("p", "d", "a", "t"): scores}, ("p", "d", "a", "t"), "Gradient", "AUP")
    [0.25, 0.19999999999999996]
    >>> differences({}, ("p", "d", "a", "t"), "Gradient", "AUP")
    []
    """
    scores = results.get(key, {})
    if method not in scores or RANDOM not in scores:
        return []
    return [a - b for a, b in zip(scores[method][metric], scores[RANDOM][metric])]


def per_seed_mean(results: Results, settings: Any, architecture: str, training: str,
                  method: str, metric: str) -> tuple[list[float], int]:
    """Per seed, Diff averaged over the data sets whose model was interpreted; and their count.

    A model below the accuracy requirement has NaN scores: it is left out of
    its seed's mean (a seed with no interpreted model is NaN).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> scores = lambda g, r: {"Gradient": {"AUP": g}, "Random": {"AUP": r}}
    >>> results = {("gaussian", "a", "tcn", "Trad."): scores([0.5, 0.6], [0.1, 0.1]),
    ...            ("gaussian", "b", "tcn", "Trad."): scores([0.3, float("nan")], [0.1, 0.1])}
    >>> means, count = per_seed_mean(results, SimpleNamespace(datasets=("a", "b")), "tcn",
    ...                              "Trad.", "Gradient", "AUP")
    >>> [round(v, 3) for v in means], count
    ([0.3, 0.5], 2)
    """
    per_dataset = [differences(results, ("gaussian", kind, architecture, training), method, metric)
                   for kind in settings.datasets]
    per_dataset = [values for values in per_dataset if values and np.isfinite(values).any()]
    if not per_dataset:
        return [], 0
    table = np.array(per_dataset, dtype=np.float64)
    with np.errstate(all="ignore"):
        means = [float(np.nanmean(column)) if np.isfinite(column).any() else math.nan
                 for column in table.T]
    return means, len(per_dataset)


def _mean_over_datasets(results: Results, settings: Any, architecture: str, training: str,
                        method: str, metric: str) -> tuple[float, float, int]:
    """Mean and std over seeds of the per-seed mean Diff, and the data sets it covers."""
    means, count = per_seed_mean(results, settings, architecture, training, method, metric)
    if not count:
        return math.nan, math.nan, 0
    mean, std = mean_std(means)
    return mean, std, count


def _cell(mean: float, std: float, count: int | None = None, total: int | None = None) -> str:
    if not math.isfinite(mean):
        return "n/a"
    text = f"{mean:.3f} ± {std:.3f}"
    return text if count is None or count == total else f"{text} ({count}/{total})"


def _table2(results: Results, settings: Any) -> str:
    """SGT Table 2: rows metric x architecture, columns method x training."""
    columns = [f"{method} {training}" for method in settings.methods for training in TRAININGS]
    lines = ["| metric | architecture | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for metric in ("AUP", "AUR"):
        for architecture in settings.architectures:
            cells = [_cell(*_mean_over_datasets(results, settings, architecture, training,
                                                method, metric), len(settings.datasets))
                     for method in settings.methods for training in TRAININGS]
            lines.append(f"| Diff({metric}) | {architecture} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _tcn_gradient(results: Results, settings: Any) -> str:
    """Per data set: Diff(AUP) and Diff(AUR) of (TCN, Gradient), traditional vs saliency-guided."""
    lines = ["| data set | k | Diff(AUP) Trad. | Diff(AUP) Sal. | Diff(AUR) Trad. | Diff(AUR) Sal. |",
             "|---|---|---|---|---|---|"]
    for kind in settings.datasets:
        cells = []
        for metric in ("AUP", "AUR"):
            for training in ("Trad.", "Sal."):
                diff = differences(results, ("gaussian", kind, "tcn", training), "Gradient", metric)
                finite = [value for value in diff if math.isfinite(value)]
                cells.append(_cell(*mean_std(finite)) + ("" if len(finite) == len(diff) else
                                                         f" ({len(finite)}/{len(diff)} seeds)")
                             if finite else "not interpreted")
        lines.append(f"| {kind} | {settings.sgt_k[kind]:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _accuracy_table(accuracy: Mapping[tuple[str, str, str, str], Mapping[str, list[float]]],
                    settings: Any) -> str:
    """Validation / test accuracy of every model; * marks models below the requirement."""
    keys = sorted({key[:2] for key in accuracy}, key=lambda k: (k[0] != "gaussian", k))
    columns = [f"{a} {t}" for a in settings.architectures for t in TRAININGS]
    lines = ["| process | data set | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for process, kind in keys:
        cells = []
        for architecture in settings.architectures:
            for training in TRAININGS:
                record = accuracy.get((process, kind, architecture, training))
                if record is None:
                    cells.append("")
                    continue
                valid, test = mean_std(record["valid"])[0], mean_std(record["test"])[0]
                mark = "" if min(record["valid"]) >= settings.min_accuracy else " *"
                cells.append(f"{valid:.2f} / {test:.2f}{mark}")
        lines.append(f"| {process} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def make_tables(results: Results, accuracy: Any, settings: Any) -> dict[str, str]:
    """The markdown tables of ``results.md``, by section heading."""
    tables = {}
    for process in settings.table1_processes:
        for kind in settings.table1_datasets:
            scores = results.get((process, kind, "tcn", "Trad."))
            if not scores:
                continue
            tables[f"TSR Table 1: TCN on {kind} (process: {process})"] = format_table(
                {label: {m: [v * (100 if m == "AUC" else 1) for v in values[m]] for m in METRICS}
                 for label, values in scores.items()},
                METRICS, lower_is_better=("AUC",))
    tables["SGT Table 2: Diff(AUP) and Diff(AUR), mean over the data sets (n/N: only n "
           "models reached the accuracy requirement)"] = _table2(results, settings)
    tables["SGT: TCN with Gradient per data set (SGT paper Table 10)"] = _tcn_gradient(results,
                                                                                      settings)
    tables["Accuracy, validation / test (* = below the requirement, not interpreted)"] = \
        _accuracy_table(accuracy, settings)
    tables["The seven processes: TCN on " + ", ".join(settings.process_datasets)] = \
        _process_table(results, settings)
    return tables


def _process_table(results: Results, settings: Any) -> str:
    """Per process: Diff(AUP) of (TCN, Gradient) both ways and the AUPR of Gradient."""
    lines = ["| process | data set | Diff(AUP) Trad. | Diff(AUP) Sal. | AUPR Trad. | AUPR Sal. |",
             "|---|---|---|---|---|---|"]
    for process in settings.processes:
        for kind in settings.process_datasets:
            cells = [_cell(*mean_std(differences(results, (process, kind, "tcn", training),
                                                 "Gradient", "AUP")))
                     for training in TRAININGS]
            cells += [_cell(*mean_std(results[(process, kind, "tcn", training)]["Gradient"]["AUPR"]))
                      if (process, kind, "tcn", training) in results else "n/a"
                      for training in TRAININGS]
            lines.append(f"| {process} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def make_claims(results: Results, settings: Any) -> list[Claim]:
    """The papers' claims as paired comparisons over seeds.

    TSR + Gradient above Gradient on AUPR, and above the random control on
    AUR (the Table 1 models); saliency-guided training raising Diff(AUP) of (TCN, Gradient) on
    each data set and each process, and of every method on the mean over the
    data sets.
    """
    claims = []
    for process, kind in [(p, k) for p in settings.table1_processes
                          for k in settings.table1_datasets]:
        scores = results.get((process, kind, "tcn", "Trad."), {})
        if "Gradient" in scores and "TSR + Gradient" in scores:
            claims.append(Claim.check(f"TSR + Gradient AUPR above Gradient's, {kind} ({process})",
                                      scores["TSR + Gradient"]["AUPR"], scores["Gradient"]["AUPR"]))
            claims.append(Claim.check(f"TSR + Gradient AUR above the random control's, {kind} "
                                      f"({process})", scores["TSR + Gradient"]["AUR"],
                                      scores[RANDOM]["AUR"]))
    runs = [("gaussian", kind) for kind in settings.datasets]
    runs += [(p, k) for p in settings.processes for k in settings.process_datasets
             if (p, k) not in runs]
    for process, kind in runs:
        trad = differences(results, (process, kind, "tcn", "Trad."), "Gradient", "AUP")
        sal = differences(results, (process, kind, "tcn", "Sal."), "Gradient", "AUP")
        if trad and sal:
            claims.append(Claim.check(f"SGT raises Diff(AUP) of (TCN, Gradient), {kind} "
                                      f"({process})", sal, trad))
    for method in settings.methods:
        trad, _ = per_seed_mean(results, settings, "tcn", "Trad.", method, "AUP")
        sal, _ = per_seed_mean(results, settings, "tcn", "Sal.", method, "AUP")
        if trad and sal:
            claims.append(Claim.check(f"SGT raises Diff(AUP) of (TCN, {method}), mean over the "
                                      "data sets", sal, trad))
    return claims


def make_notes(claims: list[Claim]) -> str:
    """The claims table and how it is decided."""
    return (f"## The papers' claims, paired over seeds\n\n{format_claims(claims)}\n\n"
            f"## How the claims are decided\n\n{VERDICT_RULE}")


def _draw_sgt(results: Results, settings: Any, path: Path) -> None:
    """Grouped bars: Diff(AUP) of (TCN, Gradient) per data set, both trainings."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1.0 + 0.8 * len(settings.datasets), 3.4), layout="constrained")
    ax = figure.subplots()
    positions = np.arange(len(settings.datasets))
    for offset, training in ((-0.2, "Trad."), (0.2, "Sal.")):
        values = [mean_std(differences(results, ("gaussian", kind, "tcn", training),
                                       "Gradient", "AUP"))[0] for kind in settings.datasets]
        errors = [mean_std(differences(results, ("gaussian", kind, "tcn", training),
                                       "Gradient", "AUP"))[1] for kind in settings.datasets]
        ax.bar(positions + offset, values, width=0.4, yerr=errors, capsize=2, label=training)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(positions, settings.datasets, rotation=35, ha="right")
    ax.set_ylabel("Diff(AUP) vs random")
    ax.set_title("TCN, Gradient: traditional vs saliency-guided training")
    ax.legend()
    FigureCanvasAgg(figure).print_png(str(path))


def _draw_panels(curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
                 plot: Any, path: Path) -> None:
    """One panel per data set, drawn by ``plot(curves_of_the_data_set, ax=..., title=...)``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.0 * len(curves), 3.8), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(curves)))
    for ax, (kind, by_method) in zip(axes, curves.items()):
        plot(by_method, ax=ax, title=f"TCN, {kind}")
    FigureCanvasAgg(figure).print_png(str(path))


def draw_figures(out: Path, maps: Mapping[str, Mapping[str, np.ndarray]],
                 boxes: Mapping[str, np.ndarray],
                 curves: Mapping[str, Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]]],
                 results: Results, settings: Any) -> list[str]:
    """Draw TSR Fig. 4/5 (maps), Fig. 6 (accuracy drop), precision-recall curves, SGT bars."""
    from xsup.plot import plot_accuracy_drop, plot_precision_recall, plot_time_series_saliency

    out.mkdir(parents=True, exist_ok=True)
    names = []
    if maps:
        plot_time_series_saliency(maps, boxes, path=out / MAPS_NAME)
        names.append(MAPS_NAME)
    for key, plot, name in (("accuracy", plot_accuracy_drop, ACCURACY_DROP_NAME),
                            ("precision_recall", plot_precision_recall, PRECISION_RECALL_NAME)):
        if curves.get(key):
            _draw_panels(curves[key], plot, out / name)
            names.append(name)
    _draw_sgt(results, settings, out / SGT_NAME)
    names.append(SGT_NAME)
    return names
