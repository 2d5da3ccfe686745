"""TSR Table 1 and SGT Table 2: saliency methods on the time-series benchmark.

Models (the TCN; with CUDA also the LSTM, the LSTM with input-cell
attention and the Transformer) are trained on the box data sets of
:func:`xsup.datasets.make_ts_benchmark`, traditionally and with
saliency-guided training (``loss="sgt"``, the SGT paper's per-data-set k,
lambda = 1). Only a model that reaches 90% accuracy on a held-out validation
split (10% of the training set, never the test set) is interpreted, as in
Ismail et al. (2020). Its test-set saliency maps, from every method and from
the ``random`` control, are scored with weighted precision and recall under
percent-of-saliency masking (AUP, AUR, AUPR,
:func:`xsup.metrics.saliency_precision_recall`) and with the accuracy drop
as the most salient cells are replaced by an uninformative draw of the same
process (AUC, :func:`xsup.metrics.accuracy_drop`; lower is better).

- TSR Table 1: TCN on Middle and Moving Middle, each method with and without
  temporal saliency rescaling (``explain(X, method="tsr", base=...)``).
- SGT Table 2: Diff(AUP) and Diff(AUR), a method's score minus the random
  control's for the same model, averaged over the data sets, per
  architecture, method and training.
- The seven generating processes: the TCN on Middle from each process.

Every claim is a paired comparison over the seeds (:mod:`xsup.bench._stats`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from skorch.callbacks import Callback, EarlyStopping

from xsup.bench._common import BenchResult, Progress, mode_settings
from xsup.bench._ts_saliency_report import (
    RANDOM,
    TRAININGS,
    draw_figures,
    make_claims,
    make_notes,
    make_tables,
)

__all__ = ["FULL", "QUICK", "TSSaliencySettings", "run"]

#: Table label -> (explainer name, explainer options), the six methods of SGT Table 2.
TABLE2_METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "Gradient": ("gradient", {}),
    "Integrated Grad.": ("integrated_gradients", {}),
    "DeepLIFT": ("deeplift", {}),
    "Gradient SHAP": ("gradient_shap", {}),
    "DeepSHAP": ("deep_shap", {}),
    "SmoothGrad": ("smoothgrad", {}),
}

#: Perturbation methods, scored on the Table 1 models only (they are the slowest).
PERTURBATION_METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "Occlusion": ("occlusion", {}),
    "Feature Ablation": ("feature_ablation", {}),
    "Feature Permutation": ("feature_permutation", {}),
    "Shapley Sampling": ("shapley_sampling", {}),
}

#: k of saliency-guided training per data set for the TCN (SGT paper, Table 10; lambda = 1).
SGT_K = {
    "middle": 0.5, "small_middle": 0.4, "moving_middle": 0.7, "moving_small_middle": 0.8,
    "rare_time": 0.5, "moving_rare_time": 0.5, "rare_feature": 0.3,
    "moving_rare_feature": 0.05, "positional_time": 0.7, "positional_feature": 0.1,
}

#: Backbone options per architecture: the benchmark's sizes (REFERENCE sec. 4.2).
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "tcn": {"module__channels": (5, 5, 50), "module__kernel_size": 4, "module__dropout": 0.1,
            "module__weight_norm": True},
    "lstm": {},
    "input_cell_lstm": {},
    "transformer": {},
}

#: The LSTMs (5 hidden units) stay at chance for tens of epochs before they learn the boxes.
RECURRENT = ("lstm", "input_cell_lstm")


@dataclass(frozen=True)
class TSSaliencySettings:
    """Data sets, models, methods and sizes of a run."""

    datasets: tuple[str, ...]
    architectures: tuple[str, ...]
    table1_datasets: tuple[str, ...] = ("middle", "moving_middle")
    table1_processes: tuple[str, ...] = ("gaussian",)
    processes: tuple[str, ...] = ("gaussian", "autoregressive", "continuous_autoregressive",
                                  "gaussian_process", "harmonic", "narma", "pseudo_periodic")
    process_datasets: tuple[str, ...] = ("middle",)
    process_methods: tuple[str, ...] = ("Gradient",)
    methods: tuple[str, ...] = tuple(TABLE2_METHODS)
    perturbation_methods: tuple[str, ...] = tuple(PERTURBATION_METHODS)
    tsr_bases: tuple[str, ...] = ("Gradient", "SmoothGrad")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n_train: int = 1000
    n_test: int = 100
    n_steps: int = 50
    n_features: int = 50
    max_epochs: int = 40
    patience: int = 8
    recurrent_max_epochs: int = 150
    recurrent_patience: int = 40
    lr: float = 1e-3
    batch_size: int = 50
    validation_fraction: float = 0.1
    min_accuracy: float = 0.9
    stop_accuracy: float = 0.99
    sgt_k: dict[str, float] = field(default_factory=lambda: dict(SGT_K))


#: Five seeds of the TCN fit the time budget on a CPU; the LSTMs (150 epochs) and the
#: transformer (~30x a TCN's epoch) are trained in full mode only when CUDA is there.
FULL = TSSaliencySettings(
    datasets=tuple(SGT_K), architectures=("tcn",), n_test=50, tsr_bases=("Gradient",),
    perturbation_methods=("Occlusion", "Feature Permutation", "Shapley Sampling"))
QUICK = TSSaliencySettings(
    datasets=("middle", "rare_time"), architectures=("tcn",), table1_datasets=("middle",),
    processes=("gaussian", "harmonic"), seeds=(0,),
    methods=("Gradient", "Integrated Grad."), perturbation_methods=("Occlusion",),
    tsr_bases=("Gradient",), n_train=80, n_test=16, n_steps=10, n_features=10,
    max_epochs=2, patience=2, recurrent_max_epochs=2, recurrent_patience=2, min_accuracy=0.0,
)


@dataclass
class Evaluation:
    """Scores of one method on one fitted model (one seed)."""

    scores: dict[str, float]
    maps: np.ndarray
    accuracy: np.ndarray
    precision: np.ndarray
    recall: np.ndarray


@dataclass
class DataSet:
    """One seed's scaled training and test data of one kind and process."""

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    E_test: np.ndarray
    replacement: np.ndarray


def _data(settings: TSSaliencySettings, kind: str, process: str, seed: int) -> DataSet:
    """Generate, split and min-max scale per cell on the training set (as the benchmark does)."""
    from xsup.datasets import make_ts_benchmark, sample_ts_process

    shape = {"n_steps": settings.n_steps, "n_features": settings.n_features}
    X, y, E, _ = make_ts_benchmark(kind, process, settings.n_train + settings.n_test,
                                   random_state=seed, **shape)
    noise = sample_ts_process(process, 1, random_state=seed + 10_000, **shape)[0]
    train, test = slice(0, settings.n_train), slice(settings.n_train, None)
    low, high = X[train].min(axis=0), X[train].max(axis=0)
    span = np.where(high > low, high - low, 1.0)

    def scale(values: np.ndarray) -> np.ndarray:
        return ((values - low) / span).astype(np.float32)

    return DataSet(scale(X[train]), y[train], scale(X[test]), y[test], E[test], scale(noise))


class StopAtAccuracy(Callback):
    """Stop training once the validation accuracy reaches ``accuracy`` (the benchmark's 99%).

    A skorch callback: raising ``KeyboardInterrupt`` ends ``fit`` the way
    skorch's ``EarlyStopping`` does, so that ``on_train_end`` still runs.
    """

    def __init__(self, accuracy: float) -> None:
        self.accuracy = accuracy

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        if net.history[-1, "valid_acc"] >= self.accuracy:
            raise KeyboardInterrupt


def _fit(settings: TSSaliencySettings, data: DataSet, kind: str, architecture: str,
         training: str, seed: int) -> tuple[Any, float, float]:
    """Train one model; return it with its best validation accuracy and its test accuracy."""
    from skorch.dataset import ValidSplit

    from xsup import ExplanationSupervisedClassifier

    loss = TRAININGS[training]
    extra = {"k": settings.sgt_k[kind], "sigma1": 1.0} if loss == "sgt" else {}
    recurrent = architecture in RECURRENT
    patience = settings.recurrent_patience if recurrent else settings.patience
    model = ExplanationSupervisedClassifier(
        module=architecture, loss=loss, explainer="gradient",
        max_epochs=settings.recurrent_max_epochs if recurrent else settings.max_epochs,
        lr=settings.lr, batch_size=settings.batch_size, verbose=0, random_state=seed,
        iterator_train__shuffle=True,
        train_split=ValidSplit(settings.validation_fraction, stratified=True, random_state=seed),
        callbacks=[("early_stopping", EarlyStopping(monitor="valid_acc", lower_is_better=False,
                                                    patience=patience, load_best=True)),
                   ("stop_at_accuracy", StopAtAccuracy(settings.stop_accuracy))],
        **ARCHITECTURES[architecture], **extra,
    )
    model.fit(data.X, data.y)
    valid = float(np.max(model.history[:, "valid_acc"]))
    return model, valid, float(model.score(data.X_test, data.y_test))


def _evaluate(model: Any, data: DataSet, method: str, options: Mapping[str, Any]) -> Evaluation:
    """Explain the test set with one method and score the maps against the boxes."""
    from xsup.metrics import accuracy_drop, saliency_precision_recall

    maps = model.explain(data.X_test, method=method, target=data.y_test, **options)
    pr = saliency_precision_recall(maps, data.E_test, zero_division=0.0)
    drop = accuracy_drop(model, data.X_test, data.y_test, maps, replacement=data.replacement)
    scores = {"AUPR": pr["AUPR"], "AUP": pr["AUP"], "AUR": pr["AUR"], "AUC": drop["AUC"]}
    return Evaluation(scores, maps, drop["accuracy"], pr["precision"], pr["recall"])


def _method_options(label: str, seed: int) -> tuple[str, dict[str, Any]]:
    """Explainer name and options of a table label, seeded where the explainer draws noise.

    ``TSR + <base>`` wraps the base method (seeded the same way).
    """
    from xsup import plugins

    def seeded(name: str, options: dict[str, Any]) -> dict[str, Any]:
        takes_seed = "random_state" in plugins.get("explainers", name)().get_params()
        return {**options, "random_state": seed} if takes_seed else dict(options)

    if label == RANDOM:
        return "random", {"random_state": seed}
    methods = {**TABLE2_METHODS, **PERTURBATION_METHODS}
    if label.startswith("TSR + "):
        base, options = methods[label[len("TSR + "):]]
        instance = plugins.get("explainers", base)(**seeded(base, options))
        return "tsr", {"base": instance}
    name, options = methods[label]
    return name, seeded(name, options)


def _labels(settings: TSSaliencySettings, process: str, kind: str, training: str) -> list[str]:
    """The methods scored on one model.

    Table 2's on the Gaussian data sets, the process study's on the other
    processes, and the perturbation methods and TSR on the traditionally
    trained Table 1 models (the slowest methods).
    """
    table2 = process == "gaussian" and kind in settings.datasets
    labels = [*(settings.methods if table2 else settings.process_methods), RANDOM]
    if training == "Trad." and process in settings.table1_processes \
            and kind in settings.table1_datasets:
        labels += [*settings.perturbation_methods, *(f"TSR + {b}" for b in settings.tsr_bases)]
    return labels


def run(out: Path, *, quick: bool = False, seeds: tuple[int, ...] | None = None) -> BenchResult:
    """Train every architecture on every data set (both trainings) and score every method.

    Parameters
    ----------
    out : pathlib.Path
        Folder of the figures (created if needed).
    quick : bool, default=False
        CI-sized run (a few seconds): tiny series, two epochs, no accuracy
        requirement; its numbers mean nothing.
    seeds : tuple of int, optional
        Seeds to run instead of the mode's.

    Returns
    -------
    BenchResult
        TSR Table 1, SGT Table 2, the per-data-set TCN table, the accuracies,
        and every score per seed.
    """
    import torch

    settings = mode_settings(FULL, QUICK, quick=quick, seeds=seeds)
    if not quick and torch.cuda.is_available():
        settings = replace(settings, architectures=tuple(ARCHITECTURES))
    runs = [("gaussian", kind) for kind in settings.datasets]
    runs += [(process, kind) for process in settings.table1_processes
             for kind in settings.table1_datasets]
    runs += [(process, kind) for process in settings.processes for kind in settings.process_datasets]
    runs = list(dict.fromkeys(runs))  # in order, without repeats
    n_models = sum(len(settings.architectures) if process == "gaussian" and kind in settings.datasets
                   else 1 for process, kind in runs)
    progress = Progress(len(settings.seeds) * n_models * len(TRAININGS) + 1)
    results: dict[tuple[str, str, str, str], dict[str, dict[str, list[float]]]] = {}
    accuracy: dict[tuple[str, str, str, str], dict[str, list[float]]] = {}
    figure_maps: dict[str, dict[str, np.ndarray]] = {}
    figure_curves: dict[str, dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]] = {
        "accuracy": {}, "precision_recall": {}}
    figure_boxes: dict[str, np.ndarray] = {}
    percentages = np.linspace(0.0, 1.0, 11)
    for seed in settings.seeds:
        for process, kind in runs:
            data = _data(settings, kind, process, seed)
            table2 = process == "gaussian" and kind in settings.datasets
            for architecture in settings.architectures if table2 else ("tcn",):
                for training in TRAININGS:
                    key = (process, kind, architecture, training)
                    progress.step(f"seed {seed}: {process} {kind}, {architecture}, {training}")
                    started = time.perf_counter()
                    model, valid, test = _fit(settings, data, kind, architecture, training, seed)
                    record = accuracy.setdefault(key, {"valid": [], "test": []})
                    record["valid"].append(valid)
                    record["test"].append(test)
                    note = f"    valid acc {valid:.3f}, test acc {test:.3f}"
                    interpreted = valid >= settings.min_accuracy
                    labels = _labels(settings, process, kind, training) if architecture == "tcn" \
                        else [*settings.methods, RANDOM]
                    figure = (architecture == "tcn" and training == "Trad."
                              and process == settings.table1_processes[0]
                              and kind in settings.table1_datasets and seed == settings.seeds[0])
                    for label in labels:
                        method, options = _method_options(label, seed)
                        evaluation = _evaluate(model, data, method, options)
                        scores = results.setdefault(key, {}).setdefault(label, {})
                        for metric, value in evaluation.scores.items():
                            # A model below the accuracy requirement is not interpreted: NaN
                            # keeps the seeds aligned for the paired comparisons.
                            scores.setdefault(metric, []).append(value if interpreted else np.nan)
                        if figure:
                            sample = int(np.flatnonzero(data.y_test == 1)[0])
                            figure_maps.setdefault(kind, {})[label] = evaluation.maps[sample]
                            figure_boxes[kind] = data.E_test[sample]
                            figure_curves["accuracy"].setdefault(kind, {})[label] = (
                                percentages, evaluation.accuracy)
                            figure_curves["precision_recall"].setdefault(kind, {})[label] = (
                                evaluation.recall, evaluation.precision)
                    progress.note(note + ("" if interpreted else
                                          " - below the requirement, not interpreted")
                                  + f"  [{time.perf_counter() - started:.0f} s]")
    progress.step("figures")
    figures = draw_figures(out, figure_maps, figure_boxes, figure_curves, results, settings)
    claims = make_claims(results, settings)
    return BenchResult(
        name="ts-saliency",
        title="Time-series saliency: TSR Table 1 and SGT Table 2",
        intro=_intro(settings),
        tables=make_tables(results, accuracy, settings),
        data={"scores": {" / ".join(key): value for key, value in results.items()},
              "accuracy": {" / ".join(key): value for key, value in accuracy.items()},
              "claims": [claim.to_dict() for claim in claims]},
        settings={**asdict(settings), "architectures_options": ARCHITECTURES,
                  "trainings": TRAININGS},
        figures=figures,
        notes=make_notes(claims),
    )


def _intro(settings: TSSaliencySettings) -> str:
    return (
        f"Data: `make_ts_benchmark`, {settings.n_train} training and {settings.n_test} test series "
        f"of {settings.n_steps} steps x {settings.n_features} features per data set and seed, "
        "min-max scaled per cell on the training set. Models: the benchmark's sizes "
        f"({', '.join(settings.architectures)}), Adam lr {settings.lr}, batch "
        f"{settings.batch_size}, up to {settings.max_epochs} epochs ({settings.recurrent_max_epochs} "
        f"for the LSTMs) with early stopping on the accuracy of a "
        f"{settings.validation_fraction:.0%} validation split (patience {settings.patience}, "
        f"{settings.recurrent_patience} for the LSTMs; the best epoch is kept; training stops at "
        f"{settings.stop_accuracy:.0%}); only models with validation accuracy >= "
        f"{settings.min_accuracy:.0%} are "
        "interpreted. Saliency-guided training: `loss=\"sgt\"`, lambda (sigma1) = 1, k per data "
        "set from the SGT paper's TCN table. Saliency explains the true class of each test "
        "series. AUP, AUR and AUPR: weighted precision/recall areas over 10-90% of the "
        "saliency; AUC: area under the accuracy as 0-100% of the saliency is replaced by an "
        "uninformative draw of the same process, in percent points x unit (the paper's scale; "
        f"lower is better). Seeds: {', '.join(map(str, settings.seeds))}. The ten data sets use "
        "white Gaussian noise; the process study trains the TCN on "
        f"{', '.join(settings.process_datasets)} generated by each of the seven processes "
        f"({', '.join(settings.processes)}) and scores {', '.join(settings.process_methods)} "
        "against the random control. The perturbation methods and TSR run on the traditionally "
        f"trained TCN of {', '.join(settings.table1_datasets)} only (they are the slowest). A "
        "model below the accuracy requirement is not interpreted; its seed is left out of the "
        "comparisons that need it."
    )

