"""STES Fig. 4: explanation and task scores of STES over sigma1, sigma2 and alpha.

Each hyperparameter is swept with the others at the values of the ``stes``
benchmark, on the same data (:mod:`xsup.bench.stes`); the baseline (no
explanation loss) is drawn as a dashed line. The paper's shapes are checked
by paired comparisons over the seeds (:mod:`xsup.bench._stats`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from xsup.bench import stes
from xsup.bench._common import BenchResult, Progress, format_table, mean_std
from xsup.bench._stats import VERDICT_RULE, Claim, format_claims
from xsup.plot import plot_sensitivity

__all__ = ["FULL", "METRICS", "QUICK", "SensitivitySettings", "run"]

#: The scores drawn, as in the paper's Fig. 4 (explanation IoU, task F1 and TSS).
METRICS = ("IoU", "F1", "TSS")

FIGURE_NAME = "sensitivity.png"


@dataclass(frozen=True)
class SensitivitySettings:
    """The grids swept and the data/model settings shared with the ``stes`` benchmark."""

    base: stes.STESBenchSettings
    sigma1: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    sigma2: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    alpha: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)


FULL = SensitivitySettings(base=stes.FULL)
QUICK = SensitivitySettings(base=stes.QUICK, sigma1=(0.1, 10.0), sigma2=(1.0,), alpha=(0.01,))

#: STES as in the stes benchmark's table.
STES_PARAMS = {"loss": "stes", "interpolator": "stes"}


#: Hyperparameter -> grid value (as text) -> metric -> one value per seed.
Sweeps = dict[str, dict[str, dict[str, list[float]]]]


def _draw(sweeps: Sweeps, values: dict[str, tuple[float, ...]],
          baseline: dict[str, list[float]], path: Path) -> None:
    """One column per hyperparameter, one row per metric; mean ± std as a band."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.2 * len(sweeps), 2.4 * len(METRICS)), layout="constrained")
    axes = np.asarray(figure.subplots(len(METRICS), len(sweeps), squeeze=False))
    for column, (name, sweep) in enumerate(sweeps.items()):
        for row, metric in enumerate(METRICS):
            ax = axes[row, column]
            stats = [mean_std(sweep[str(value)][metric]) for value in values[name]]
            curve = (values[name], [m for m, _ in stats], [s for _, s in stats])
            plot_sensitivity({"STES": curve}, ax=ax, log_x=True,
                             xlabel=name if row == len(METRICS) - 1 else "",
                             ylabel=metric if column == 0 else "")
            ax.axhline(mean_std(baseline[metric])[0], color="goldenrod", linestyle="--",
                       label="baseline")
            if row == 0 and column == 0:
                ax.legend(fontsize="small")
            else:
                ax.get_legend().remove()
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=100)


def run(out: Path, *, quick: bool = False, seeds: tuple[int, ...] | None = None) -> BenchResult:
    """Train the baseline and STES at every grid value for every seed; draw Fig. 4.

    Parameters
    ----------
    out : pathlib.Path
        Folder of the figure (created if needed).
    quick : bool, default=False
        CI-sized run (a few seconds); its numbers mean nothing.
    seeds : tuple of int, optional
        Seeds to run instead of the mode's.

    Returns
    -------
    BenchResult
        One table per hyperparameter and the raw scores.
    """
    settings = QUICK if quick else FULL
    base = settings.base if seeds is None else replace(settings.base, seeds=tuple(seeds))
    values = {"sigma1": settings.sigma1, "sigma2": settings.sigma2, "alpha": settings.alpha}
    n_fits = 1 + sum(len(grid) for grid in values.values())
    progress = Progress(len(base.seeds) * (n_fits + 1) + 1)
    baseline: dict[str, list[float]] = {metric: [] for metric in METRICS}
    sweeps: Sweeps = {name: {str(value): {metric: [] for metric in METRICS} for value in grid}
              for name, grid in values.items()}
    for seed in base.seeds:
        progress.step(f"seed {seed}: data")
        data = stes.make_data(base, seed)
        progress.step(f"seed {seed}: fitting the baseline")
        row, _ = stes.fit_and_evaluate(base, {"loss": "none"}, False, seed, data)
        for metric in METRICS:
            baseline[metric].append(row[metric])
        for name, grid in values.items():
            for value in grid:
                progress.step(f"seed {seed}: fitting STES with {name}={value:g}")
                params = {**STES_PARAMS, name: value}
                row, _ = stes.fit_and_evaluate(base, params, False, seed, data)
                progress.note("    " + "  ".join(f"{m} {row[m]:.3f}" for m in METRICS))
                for metric in METRICS:
                    sweeps[name][str(value)][metric].append(row[metric])
    progress.step(f"figure {FIGURE_NAME}")
    out.mkdir(parents=True, exist_ok=True)
    _draw(sweeps, values, baseline, out / FIGURE_NAME)
    tables = {}
    for name, sweep in sweeps.items():
        rows = {"baseline (no explanation loss)": baseline}
        rows.update({f"STES, {name} = {value}": scores for value, scores in sweep.items()})
        tables[f"STES over {name}"] = format_table(rows, METRICS, first_column="model")
    intro = f"""\
STES (`loss="stes", interpolator="stes"`) with one hyperparameter swept at a time, the others at
sigma1 = {base.sigma1:g}, sigma2 = {base.sigma2:g}, alpha = {base.alpha:g}; data, model and
training as in the `stes` benchmark ({base.n_train} training sequences with
{base.missing_annotation_rate:.0%} of the annotation frames missing, {base.n_test} complete test
sequences, {base.epochs} epochs, Grad-CAM on `{base.explainer_layer}`). Seeds:
{', '.join(map(str, base.seeds))}. Scores on the test sequences: IoU pooled over frames, F1 and
TSS of the event class; mean ± sample standard deviation over the seeds. The figure draws the
means with the standard deviations as shaded bands and the baseline as a dashed line. alpha is the
tolerance of each frame's mean absolute error, which lies in [0, 1]: alpha = 1 switches the
explanation term off."""
    claims = _claims(sweeps, values, baseline)
    tables["The paper's shapes, paired over seeds"] = format_claims(claims)
    return BenchResult(
        name="sensitivity", title="STES Fig. 4: sensitivity to sigma1, sigma2 and alpha",
        intro=intro, tables=tables,
        data={"metrics": list(METRICS), "grids": values, "baseline": baseline, "sweeps": sweeps,
              "claims": [claim.to_dict() for claim in claims]},
        settings={**asdict(settings), "base": asdict(base)}, figures=[FIGURE_NAME],
        notes=f"## How the claims are decided\n\n{VERDICT_RULE}",
    )


def tss_range(sweep: dict[str, dict[str, list[float]]]) -> list[float]:
    """Per seed, the largest minus the smallest TSS over a hyperparameter's grid.

    Examples
    --------
    >>> tss_range({"0.1": {"TSS": [0.2, 0.5]}, "1.0": {"TSS": [0.9, 0.4]}})
    [0.7, 0.09999999999999998]
    """
    rows = np.array([values["TSS"] for values in sweep.values()], dtype=np.float64)
    return (rows.max(axis=0) - rows.min(axis=0)).tolist()


def _claims(sweeps: Sweeps, values: dict[str, tuple[float, ...]],
            baseline: dict[str, list[float]]) -> list[Claim]:
    """An "n" shape of TSS over sigma1 and alpha, sigma2 above the baseline, and which moves TSS most."""
    claims = []
    middle = {"sigma1": 1.0, "alpha": 0.01}
    for name, best in middle.items():
        grid = values[name]
        if best not in grid:
            continue
        for other in (grid[0], grid[-1]):
            if other != best:
                claims.append(Claim.check(
                    f"TSS at {name} = {best:g} above {name} = {other:g}",
                    sweeps[name][str(best)]["TSS"], sweeps[name][str(other)]["TSS"]))
    claims += [Claim.check(f"IoU at sigma2 = {value:g} above the baseline's",
                           sweeps["sigma2"][str(value)]["IoU"], baseline["IoU"])
               for value in values["sigma2"]]
    ranges = {name: tss_range(sweep) for name, sweep in sweeps.items()}
    for first, second in (("sigma1", "alpha"), ("alpha", "sigma2"), ("sigma1", "sigma2")):
        claims.append(Claim.check(f"TSS range over the grid larger for {first} than for {second}",
                                  ranges[first], ranges[second]))
    return claims
