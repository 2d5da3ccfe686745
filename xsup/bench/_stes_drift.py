"""STES on moving regions: which way of filling missing annotation frames helps, and when.

STES learns to interpolate missing annotation frames; the paper argues it
matters when annotations are sparse and regions move. Four ways of filling
them are compared under the STES loss: the learned interpolator (STES),
linear and nearest interpolation in time, and none (STES-I, only the
annotated frames supervise). The grid is drift speed (pixels per frame, see
:func:`xsup.datasets.make_spatiotemporal_events`) x the share of missing
training frames. Besides the test scores, the *fill IoU* measures the
interpolation itself: the filled missing training frames, binarised at 0.5,
against the true boxes of those frames, pooled over frames.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from xsup.bench._common import Progress, format_table
from xsup.bench._stats import Claim

__all__ = ["INTERPOLATORS", "METRICS", "condition", "drift_claims", "drift_fits", "drift_tables",
           "fill_iou", "run_drift"]

#: Column label -> the ``interpolator`` of the STES loss.
INTERPOLATORS = {"STES (learned)": "stes", "linear": "linear", "nearest": "nearest",
                 "STES-I (none)": "none"}

#: Scores of the study: condition -> method -> metric -> one value per seed.
DriftScores = dict[str, dict[str, dict[str, list[float]]]]

METRICS = ("IoU", "TSS", "Fill IoU")


def condition(drift: float, missing: float) -> str:
    """The label of one cell of the grid.

    Examples
    --------
    >>> condition(2.0, 0.8)
    'drift 2 px/frame, 80% missing'
    """
    return f"drift {drift:g} px/frame, {missing:.0%} missing"


def fill_iou(model: Any, E_train: np.ndarray, E_true: np.ndarray) -> float:
    """Pooled IoU of the fitted model's filled missing training frames with the true boxes.

    NaN when the interpolator leaves every missing frame unfilled (``none``).
    """
    import torch

    missing_frames = np.isnan(E_train).all(axis=(2, 3))
    annotation = torch.as_tensor(E_train, device=model.device)
    interpolator = model.interpolator_.eval()
    with torch.no_grad():
        filled, _ = interpolator(annotation, torch.as_tensor(missing_frames, device=model.device))
    filled = filled.cpu().numpy()[missing_frames]
    if np.isnan(filled).all():
        return float("nan")
    truth = E_true[missing_frames] > 0.5
    guess = np.nan_to_num(filled, nan=0.0) > 0.5
    union = (truth | guess).sum()
    return float((truth & guess).sum() / union) if union else float("nan")


def run_drift(settings: Any, progress: Progress) -> DriftScores:
    """Fit the four fillings on every cell of the grid for every seed.

    The models are those of Table 1, trained for ``settings.drift_epochs``.
    """
    from xsup.bench import stes

    trained = replace(settings, epochs=settings.drift_epochs)
    scores: DriftScores = {cell: {label: {metric: [] for metric in METRICS}
                                  for label in INTERPOLATORS} for cell in _cells(settings)}
    for seed in settings.seeds:
        for drift in settings.drift_speeds:
            for missing in settings.drift_missing_rates:
                cell = condition(drift, missing)
                data = stes.make_data(settings, seed, drift=drift, missing_annotation_rate=missing)
                truth = stes.make_data(settings, seed, drift=drift, missing_annotation_rate=0.0)
                for label, interpolator in INTERPOLATORS.items():
                    progress.step(f"seed {seed}, {cell}: fitting STES with {label} filling")
                    started = time.perf_counter()
                    model = stes.fit(trained, {"loss": "stes", "interpolator": interpolator},
                                     False, seed, data)
                    result, _ = stes.evaluate(model, *data[1])
                    row = scores[cell][label]
                    row["IoU"].append(result["IoU"])
                    row["TSS"].append(result["TSS"])
                    row["Fill IoU"].append(fill_iou(model, data[0][2], truth[0][2]))
                    progress.note(f"    IoU {result['IoU']:.3f}  TSS {result['TSS']:.3f}  fill IoU "
                                  f"{row['Fill IoU'][-1]:.3f}  "
                                  f"[{time.perf_counter() - started:.0f} s fit]")
    return scores


def drift_fits(settings: Any) -> int:
    """Number of fits :func:`run_drift` makes per seed."""
    return len(_cells(settings)) * len(INTERPOLATORS)


def _cells(settings: Any) -> list[str]:
    return [condition(drift, missing) for drift in settings.drift_speeds
            for missing in settings.drift_missing_rates]


def drift_tables(scores: DriftScores) -> dict[str, str]:
    """One table per metric: rows are the fillings, columns the cells of the grid."""
    tables = {}
    for metric in METRICS:
        rows = {label: {cell: scores[cell][label][metric] for cell in scores}
                for label in INTERPOLATORS if label != "STES-I (none)" or metric != "Fill IoU"}
        tables[f"Moving regions: test {metric} by filling of missing frames"
               if metric != "Fill IoU" else
               "Moving regions: fill IoU (filled missing training frames against the true "
               "boxes)"] = format_table(rows, list(scores), first_column="filling")
    return tables


def drift_claims(scores: DriftScores, settings: Any) -> list[Claim]:
    """The paper's claim, at the fastest drift for every missing share, and its growth with drift."""
    fastest, slowest = max(settings.drift_speeds), min(settings.drift_speeds)
    claims = []
    for missing in settings.drift_missing_rates:
        moving = scores[condition(fastest, missing)]
        static = scores[condition(slowest, missing)]
        for metric in ("IoU", "TSS", "Fill IoU"):
            claims.append(Claim.check(
                f"learned above linear filling on {metric}, {condition(fastest, missing)}",
                moving["STES (learned)"][metric], moving["linear"][metric]))
        claims.append(Claim.check(
            f"learned filling above none (STES-I) on IoU, {condition(fastest, missing)}",
            moving["STES (learned)"]["IoU"], moving["STES-I (none)"]["IoU"]))
        gain_moving = np.subtract(moving["STES (learned)"]["IoU"], moving["linear"]["IoU"])
        gain_static = np.subtract(static["STES (learned)"]["IoU"], static["linear"]["IoU"])
        claims.append(Claim.check(
            f"learned-minus-linear IoU larger at drift {fastest:g} than at {slowest:g}, "
            f"{missing:.0%} missing", list(gain_moving), list(gain_static)))
    return claims
