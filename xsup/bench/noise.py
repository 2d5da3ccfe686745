"""RES's setting: explanation supervision with noisy, partial annotations and little data.

RES claims to handle annotations with inaccurate boundaries and incomplete
regions, and to degrade least as they get worse. This benchmark trains the
methods on annotations made worse by :func:`xsup.datasets.corrupt_annotations`
(a kind at growing levels) and scores them on clean test annotations:

- decoy digits (:func:`xsup.datasets.load_decoy_digits`, 10 images per
  class): the baseline, GRADIA, HAICS, RES-G, RES-L and RRR, as in the
  ``res`` benchmark, for three kinds at four levels;
- raster sequences (:func:`xsup.datasets.make_spatiotemporal_events`): the
  baseline, GRADIA, RES-G and STES, as in the ``stes`` benchmark, for three
  kinds at four levels;
- RES Fig. 2's small-data regime: every digit method at 10, 20, 50 and 100
  training images in all, with exact and with dilated annotations.

Every claim is a paired comparison over the seeds (:mod:`xsup.bench._stats`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xsup.bench import res, stes
from xsup.bench._common import BenchResult, Progress, mode_settings
from xsup.bench._noise_report import (
    CORRUPTIONS_NAME,
    DIGITS_NAME,
    SEQUENCES_NAME,
    SIZES_NAME,
    Curves,
    draw_corruptions,
    draw_curves,
    draw_sizes,
    make_report,
)
from xsup.losses.rrr import irrelevance_mask

__all__ = ["FULL", "QUICK", "NoiseSettings", "run"]

DIGIT_METRICS = ("Accuracy", "IoU")
SEQUENCE_METRICS = ("TSS", "IoU")
SEQUENCE_METHODS = tuple(m for m in stes.METHODS if m.label in ("Baseline", "GRADIA", "RES-G",
                                                                  "STES"))


@dataclass(frozen=True)
class NoiseSettings:
    """Corruptions, sizes and models of a run.

    ``digit_kinds`` and ``sequence_kinds`` map a corruption kind to its
    levels (the first, 0, is the exact annotation, fitted once for all kinds).
    """

    digit_kinds: dict[str, tuple[Any, ...]]
    sequence_kinds: dict[str, tuple[Any, ...]]
    training_sizes: tuple[int, ...]
    digits: res.RESBenchSettings
    sequences: stes.STESBenchSettings
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    per_class: int = 10
    size_corruption: tuple[str, Any] = ("dilate", 1)
    sigma1: tuple[tuple[str, float], ...] = (("HAICS", 0.1), ("RES-G", 0.3), ("RES-L", 0.3))


FULL = NoiseSettings(
    digit_kinds={"dilate": (0, 1, 2, 3), "drop": (0.0, 0.25, 0.5, 0.75), "shift": (0, 1, 2, 3)},
    sequence_kinds={"dilate": (0, 1, 2, 3), "shift": (0, 1, 2, 3),
                    "missing": (0.0, 0.5, 0.75, 0.9)},
    training_sizes=(10, 20, 50, 100),
    digits=replace(res.FULL, test_size=300),
    sequences=replace(stes.FULL, n_train=200, n_test=200, epochs=20, missing_annotation_rate=0.0),
)
QUICK = NoiseSettings(
    digit_kinds={"dilate": (0, 1), "drop": (0.0, 0.5), "shift": (0, 1)},
    sequence_kinds={"dilate": (0, 1), "missing": (0.0, 0.5)},
    training_sizes=(10, 20), seeds=(0,), per_class=2,
    digits=replace(res.QUICK, test_size=60),
    sequences=replace(stes.QUICK, missing_annotation_rate=0.0),
)


def _levels(kinds: dict[str, tuple[Any, ...]]) -> list[tuple[str, Any]]:
    """``(kind, level)`` pairs to fit: the exact annotations once, then every corrupted level."""
    return [("exact", 0)] + [(kind, level) for kind, levels in kinds.items()
                             for level in levels if level]


def _digit_data(settings: NoiseSettings, seed: int, n_train: int) -> tuple[np.ndarray, ...]:
    from xsup.datasets import load_decoy_digits

    return load_decoy_digits(random_state=seed, train_size=n_train,
                             test_size=settings.digits.test_size)


def _corrupt(E: np.ndarray, kind: str, level: Any, seed: int) -> np.ndarray:
    from xsup.datasets import corrupt_annotations

    return E if kind == "exact" else corrupt_annotations(E, kind, level, random_state=seed)


def _fit_digits(settings: NoiseSettings, label: str, seed: int, data: tuple[np.ndarray, ...],
                E: np.ndarray) -> dict[str, float]:
    params = dict(res.METHODS[label])
    if params["loss"] != "none":
        params["sigma1"] = dict(settings.sigma1).get(label, 1.0)
    model = res.fit_model(settings.digits, params, seed, data[0], data[1], E)
    scores, _ = res.evaluate(model, *data[3:])
    return scores


def _exact_fit_stands(label: str, E: np.ndarray, exact: np.ndarray) -> bool:
    """Whether a method trained on ``E`` is the model trained on the exact annotations.

    The baseline never reads E. RRR reads only its irrelevance mask (the -1
    decoy cells here), which the digit corruptions keep, so its fit on the
    exact annotations is its fit at every level; the check makes sure.
    """
    loss = res.METHODS[label]["loss"]
    if loss == "rrr":
        mask = irrelevance_mask(torch.as_tensor(E))
        return bool(torch.equal(mask, irrelevance_mask(torch.as_tensor(exact)))
                    and np.array_equal(np.isnan(E), np.isnan(exact)))
    return loss == "none"


def _run_digits(settings: NoiseSettings, seed: int, curves: Curves, sizes: Curves,
                progress: Progress) -> None:
    """Every digit method at every level of every kind, then at every training size."""
    data = _digit_data(settings, seed, 10 * settings.per_class)
    for kind, level in _levels(settings.digit_kinds):
        E = _corrupt(data[2], kind, level, seed)
        for label in res.METHODS:
            stands = kind != "exact" and _exact_fit_stands(label, E, data[2])
            if label == "Baseline" and stands:
                continue  # it never sees E: its exact-annotation fit stands for every level
            row = curves.setdefault((kind, level), {}).setdefault(label, {})
            if stands:
                scores = _last(curves[("exact", 0)][label])
            else:
                progress.step(f"seed {seed}, digits, {kind} {level}: fitting {label}")
                scores = _fit_digits(settings, label, seed, data, E)
            for metric in DIGIT_METRICS:
                row.setdefault(metric, []).append(scores[metric])
    annotations = {"exact": ("exact", 0), "corrupted": settings.size_corruption}
    for size in settings.training_sizes:
        size_data = _digit_data(settings, seed, size)
        for name, (kind, level) in annotations.items():
            E = _corrupt(size_data[2], kind, level, seed)
            for label in res.METHODS:
                stands = name != "exact" and _exact_fit_stands(label, E, size_data[2])
                if label == "Baseline" and stands:
                    continue
                row = sizes.setdefault((name, size), {}).setdefault(label, {})
                if stands:
                    scores = _last(sizes[("exact", size)][label])
                elif size == 10 * settings.per_class and label in curves.get((kind, level), {}):
                    scores = _last(curves[(kind, level)][label])  # the fit of the noise curves
                else:
                    progress.step(f"seed {seed}, digits, {size} training images, {name} "
                                  f"annotations: fitting {label}")
                    scores = _fit_digits(settings, label, seed, size_data, E)
                for metric in DIGIT_METRICS:
                    row.setdefault(metric, []).append(scores[metric])


def _last(row: dict[str, list[float]]) -> dict[str, float]:
    """The scores of the seed just fitted, from a table row."""
    return {metric: values[-1] for metric, values in row.items()}


def _run_sequences(settings: NoiseSettings, seed: int, curves: Curves,
                   progress: Progress) -> None:
    """The sequence methods at every level of every kind (clean test boxes)."""
    data = stes.make_data(settings.sequences, seed)
    (X, y, E), test = data
    for kind, level in _levels(settings.sequence_kinds):
        corrupted = ((X, y, _corrupt(E, kind, level, seed)), test)
        for method in SEQUENCE_METHODS:
            if method.label == "Baseline" and kind != "exact":
                continue
            progress.step(f"seed {seed}, sequences, {kind} {level}: fitting {method.label}")
            scores, _ = stes.fit_and_evaluate(settings.sequences, method.params,
                                              method.exhaustive, seed, corrupted)
            row = curves.setdefault((kind, level), {}).setdefault(method.label, {})
            for metric in SEQUENCE_METRICS:
                row.setdefault(metric, []).append(scores[metric])


def _n_fits(settings: NoiseSettings) -> int:
    """Fits of one seed: the baseline and RRR once per training set (see _exact_fit_stands)."""
    digit_methods = len(res.METHODS)
    once = sum(params["loss"] in ("none", "rrr") for params in res.METHODS.values())
    digits = once + (digit_methods - once) * len(_levels(settings.digit_kinds))
    sizes = len(settings.training_sizes) * (2 * digit_methods - once)
    if 10 * settings.per_class in settings.training_sizes:  # reused from the noise curves
        kind, level = settings.size_corruption
        sizes -= digit_methods + (digit_methods - once
                                  if level in settings.digit_kinds.get(kind, ()) else 0)
    sequences = 1 + (len(SEQUENCE_METHODS) - 1) * len(_levels(settings.sequence_kinds))
    return digits + sizes + sequences


def run(out: Path, *, quick: bool = False, seeds: tuple[int, ...] | None = None) -> BenchResult:
    """Train every method under every corruption and training size for every seed.

    The arguments are those of every benchmark's ``run`` (see :mod:`xsup.bench`);
    the result holds the tables per corruption kind and training size, the
    claims and every score per seed.
    """
    settings = mode_settings(FULL, QUICK, quick=quick, seeds=seeds)
    progress = Progress(len(settings.seeds) * _n_fits(settings) + 4)
    digits: Curves = {}
    sizes: Curves = {}
    sequences: Curves = {}
    for seed in settings.seeds:
        started = time.perf_counter()
        _run_digits(settings, seed, digits, sizes, progress)
        _run_sequences(settings, seed, sequences, progress)
        progress.note(f"seed {seed} done in {time.perf_counter() - started:.0f} s")
    out.mkdir(parents=True, exist_ok=True)
    progress.step(f"figure {CORRUPTIONS_NAME}")
    draw_corruptions(settings, out / CORRUPTIONS_NAME)
    progress.step(f"figure {DIGITS_NAME}")
    draw_curves(digits, settings.digit_kinds, DIGIT_METRICS, "decoy digits", out / DIGITS_NAME)
    progress.step(f"figure {SEQUENCES_NAME}")
    draw_curves(sequences, settings.sequence_kinds, SEQUENCE_METRICS, "raster sequences",
                out / SEQUENCES_NAME)
    progress.step(f"figure {SIZES_NAME}")
    draw_sizes(sizes, settings, out / SIZES_NAME)
    tables, claims, notes = make_report(digits, sequences, sizes, settings)
    return BenchResult(
        name="noise", title="Noisy and partial annotations (RES's setting) and small training sets",
        intro=_intro(settings), tables=tables,
        data={"digits": _keyed(digits), "sequences": _keyed(sequences), "sizes": _keyed(sizes),
              "claims": [claim.to_dict() for claim in claims]},
        settings={**asdict(settings), "digit_methods": res.METHODS,
                  "sequence_methods": [asdict(m) for m in SEQUENCE_METHODS]},
        figures=[CORRUPTIONS_NAME, DIGITS_NAME, SEQUENCES_NAME, SIZES_NAME],
        notes=notes,
    )


def _keyed(curves: Curves) -> dict[str, Any]:
    """``(kind, level)`` keys as ``"kind level"`` text for results.json."""
    return {f"{kind} {level:g}" if not isinstance(level, str) else f"{kind} {level}": rows
            for (kind, level), rows in curves.items()}


def _intro(settings: NoiseSettings) -> str:
    digits, sequences = settings.digits, settings.sequences
    kinds = "; ".join(f"{kind} {', '.join(f'{v:g}' for v in levels[1:])}"
                      for kind, levels in settings.digit_kinds.items())
    sequence_kinds = "; ".join(f"{kind} {', '.join(f'{v:g}' for v in levels[1:])}"
                               for kind, levels in settings.sequence_kinds.items())
    sigma1 = ", ".join(f"{label} {value:g}" for label, value in settings.sigma1)
    size_kind, size_level = settings.size_corruption
    return f"""\
The training annotations are corrupted with `xsup.datasets.corrupt_annotations(E, kind,
level, random_state=seed)` (see the first figure: one digit and one sequence frame at every
level); the test annotations stay exact, so the explanation scores say how close a model's
maps come to the truth when it was taught with worse annotations. The same seed draws the
same corruption at every level (the cells dropped at 0.25 are among those dropped at 0.5, a
sample's shift direction is the same at every level). Seeds: {', '.join(map(str, settings.seeds))}
(data, corruption and model).

Decoy digits: as in the `res` benchmark (`load_decoy_digits(random_state=seed)`, the residual
`cnn`, Grad-CAM, {digits.epochs} epochs, Adam lr {digits.lr:g}, batch {digits.batch_size}) with
{10 * settings.per_class} training images and {digits.test_size} decoy-shuffled test images.
sigma1 = 1 for every explanation loss but {sigma1} (the values the `res` benchmark's
validation picks most often). Kinds and levels: {kinds} (dilate, shift: cells; drop: share of
stroke cells). Accuracy and macro IoU against the exact strokes. The corruptions keep the -1
decoy cells, the only cells RRR reads, so RRR (like the baseline) is fitted once per training
set and its scores stand at every level.

Raster sequences: as in the `stes` benchmark with {sequences.n_train} training sequences,
{sequences.n_test} test sequences, {sequences.epochs} epochs, every training frame annotated
before corruption; the baseline, GRADIA, RES-G (outside of the box -1) and STES (learned
interpolator). Kinds and levels: {sequence_kinds} (missing: share of frames). TSS and pooled
IoU against the exact boxes.

Small training sets (RES Fig. 2): every digit method with {', '.join(map(str,
settings.training_sizes))} training images in all (stratified), with exact annotations and
with `{size_kind}` {size_level} annotations."""
