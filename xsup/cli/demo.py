"""``xsup demo``: train with and without explanation supervision and compare.

On SolarFlare-like raster sequences (:func:`xsup.datasets.make_spatiotemporal_events`),
one CNN+GRU is trained on the prediction loss alone and one, from the same
seed, with the GRADIA explanation loss on Grad-CAM maps. Both are scored on a
held-out test split for prediction (accuracy, F1, TSS) and explanation (IoU of
the Grad-CAM maps with the annotated boxes), and their maps are drawn.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xsup.cli._arguments import UsageError, non_negative_int, positive_int
from xsup.cli._config import check_config, read_config

__all__ = ["DemoSettings", "add_parser", "model_settings", "run"]

FIGURE_NAME = "demo_saliency.png"


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of a demo run (the full run must finish within a minute on two CPU cores)."""

    n_samples: int
    epochs: int
    test_size: float = 0.3
    batch_size: int = 32
    lr: float = 2e-3
    sigma1: float = 3.0  # weight of the explanation term of the supervised model


FULL = DemoSettings(n_samples=800, epochs=20)
QUICK = DemoSettings(n_samples=120, epochs=2)

#: The two models compared: table label, explanation loss.
MODELS = (("unsupervised", "none"), ("supervised", "gradia"))


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Declare ``xsup demo [--out DIR] [--epochs N] [--seed S] [--quick] [--config FILE]``."""
    parser = commands.add_parser(
        "demo",
        help="train a model with and without explanation supervision and compare them",
        description="Generate SolarFlare-like raster sequences, train a CNN+GRU without "
        "(loss='none') and with (loss='gradia', Grad-CAM) explanation supervision, print "
        "accuracy, F1, TSS and explanation IoU on a held-out test split, and save a figure "
        f"of saliency overlays ({FIGURE_NAME}).",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("xsup-demo"), metavar="DIR",
        help="directory for the figure (created if needed; default: xsup-demo)",
    )
    parser.add_argument(
        "--epochs", type=positive_int, metavar="N",
        help=f"training epochs per model (default: {FULL.epochs}, {QUICK.epochs} with --quick)",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, metavar="S",
        help="seed of the data, the split and both models (default: 0)",
    )
    parser.add_argument(
        "--quick", action="store_true",
        help=f"a few seconds: {QUICK.n_samples} sequences instead of {FULL.n_samples}",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE",
        help="JSON (or YAML, with PyYAML) file of estimator parameters for both models, e.g. "
        '{"lr": 0.003, "sigma1": 5}; its "loss" replaces gradia in the supervised model; '
        "--epochs wins over its max_epochs",
    )
    parser.set_defaults(run=run)
    return parser


def _stage(step: int, total: int, text: str) -> None:
    print(f"[{step}/{total}] {text}", flush=True)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} exists and is not a directory")


def model_settings(
    settings: DemoSettings, seed: int, config: dict[str, Any], config_path: Path | None
) -> dict[str, dict[str, Any]]:
    """Estimator parameters of the unsupervised and the supervised model, checked.

    The demo's settings, overridden by the ``--config`` file (whose ``loss``
    goes to the supervised model only; the unsupervised one keeps ``"none"``).
    """
    from xsup import ExplanationSupervisedClassifier

    base = {
        "module": "cnn_gru", "explainer": "gradcam", "sigma1": settings.sigma1,
        "max_epochs": settings.epochs, "lr": settings.lr, "batch_size": settings.batch_size,
        "train_split": None, "random_state": seed, "verbose": 0,
    }
    params = {}
    for label, loss in MODELS:
        if loss == "none":  # the loss and its options are the supervised model's
            wanted = {k: v for k, v in config.items() if not k.startswith("loss__")}
            wanted["loss"] = "none"
        else:
            wanted = {**config, "loss": config.get("loss", loss)}
        model = check_config(wanted, ExplanationSupervisedClassifier, base, config_path,
                             input_kind="raster_sequences")
        params[label] = model.get_params(deep=False)
    return params


def _train(params: dict[str, Any], X: Any, y: Any, E: Any) -> Any:
    from xsup import ExplanationSupervisedClassifier
    from xsup.cli._progress import EpochProgress

    model = ExplanationSupervisedClassifier(**{
        **params, "callbacks": [("progress", EpochProgress())],
    })
    try:
        return model.fit(X, y, E)
    except ValueError as error:  # a parameter that only the data can refuse
        raise UsageError(f"training with loss={params['loss']!r} failed: {error}") from None


def _scores(model: Any, X: Any, y: Any, E: Any) -> tuple[dict[str, float], Any]:
    from sklearn.metrics import accuracy_score, f1_score

    from xsup.metrics import explanation_iou, true_skill_statistic

    predicted = model.predict(X)
    saliency = model.explain(X)
    scores = {
        "accuracy": accuracy_score(y, predicted),
        "F1": f1_score(y, predicted, zero_division=0.0),
        "TSS": true_skill_statistic(y, predicted),
        "IoU": explanation_iou(saliency, E),
        "IoU last frame": explanation_iou(saliency[:, -1], E[:, -1]),
    }
    return scores, saliency


def _print_table(rows: dict[str, dict[str, float]]) -> None:
    columns = list(next(iter(rows.values())))
    label_width = max(len("model"), *(len(label) for label in rows))
    widths = [max(len(column), 5) for column in columns]
    print("  ".join(["model".ljust(label_width), *(c.rjust(w) for c, w in zip(columns, widths))]))
    for label, scores in rows.items():
        cells = (f"{scores[c]:.3f}".rjust(w) for c, w in zip(columns, widths))
        print("  ".join([label.ljust(label_width), *cells]))


def run(args: argparse.Namespace) -> int:
    """Run the demo: data, two trainings, evaluation table, figure."""
    started = time.perf_counter()
    settings = QUICK if args.quick else FULL
    config = read_config(args.config) if args.config is not None else {}
    if args.epochs is not None:
        config = {**config, "max_epochs": args.epochs}
    params = model_settings(settings, args.seed, config, args.config)
    out: Path = args.out
    _check_out(out)
    total = 5
    print("xsup demo: does explanation supervision move a model's attention onto the "
          "annotated region?", flush=True)

    import numpy as np
    from sklearn.model_selection import train_test_split

    from xsup.datasets import make_spatiotemporal_events

    X, y, E = make_spatiotemporal_events(settings.n_samples, random_state=args.seed)
    X_train, X_test, y_train, y_test, E_train, E_test = train_test_split(
        X, y, E, test_size=settings.test_size, stratify=y, random_state=args.seed
    )
    n_steps, n_channels, height, width = X.shape[1:]
    _stage(1, total, f"data: {len(X)} SolarFlare-like sequences of {n_steps} frames "
           f"({n_channels}x{height}x{width}, {y.mean():.0%} events): {len(X_train)} train, "
           f"{len(X_test)} test")

    rows: dict[str, dict[str, float]] = {}
    maps: dict[str, Any] = {}
    for step, (name, _) in enumerate(MODELS, start=2):
        chosen = params[name]
        loss = chosen["loss"]
        weight = "" if loss == "none" else f", sigma1={chosen['sigma1']:g}"
        _stage(step, total, f"training the {name} model: {chosen['module']}, loss={loss!r}"
               f"{weight}, explainer={chosen['explainer']!r}, {chosen['max_epochs']} epochs")
        model = _train(chosen, X_train, y_train, E_train)
        label = f"{name} ({loss})"
        rows[label], maps[label] = _scores(model, X_test, y_test, E_test)

    _stage(4, total, f"scores on the held-out test split ({len(X_test)} sequences, "
           f"{int(y_test.sum())} events)")
    _print_table(rows)
    print("IoU: Grad-CAM > 0.5 against the annotated boxes, pooled over all frames, and over "
          "the last frame only (the one GRADIA supervises)")
    if args.quick:
        print(f"--quick: {settings.n_samples} sequences and {settings.epochs} epochs check that "
              "everything runs; these numbers say nothing about explanation supervision (run "
              "without --quick for the real comparison)")

    index = int(np.flatnonzero(y_test == 1)[0]) if (y_test == 1).any() else 0
    try:
        from xsup.plot import plot_saliency_overlays

        out.mkdir(parents=True, exist_ok=True)
        path = out / FIGURE_NAME
        plot_saliency_overlays(X_test, maps, E_test, index=index, path=path)
    except ImportError as error:
        _stage(5, total, f"figure skipped: {error}")
    else:
        _stage(5, total, f"saliency overlays of test sequence {index} (an event) -> {path}")
    print(f"done in {time.perf_counter() - started:.1f} s", flush=True)
    return 0
