"""SGT Fig. 3: modification-based evaluation on scikit-learn's digits.

Ismail et al. (2021) rank the pixels of each test image by a saliency
method, remove the most salient ones (the black background replaces them),
and read the accuracy as the removed share grows: the steeper the drop, the
better the saliency names what the model uses. Their claim: saliency-guided
training (``loss="sgt"``) makes the drop steeper for every gradient-based
method, and every method drops faster than random removal. The digits are
scikit-learn's 8 x 8 images, whose background is 0, as MNIST's is.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xsup.bench._common import BenchResult, Progress, format_table, mean_std, mode_settings
from xsup.bench._stats import VERDICT_RULE, Claim, format_claims

__all__ = ["FULL", "METHODS", "QUICK", "SGTSettings", "removal_curve", "run"]

#: Curve label -> explainer name (``random`` is the control).
METHODS = {"Gradient": "gradient", "Integrated Grad.": "integrated_gradients",
           "SmoothGrad": "smoothgrad", "DeepLIFT": "deeplift", "Gradient SHAP": "gradient_shap",
           "Random": "random"}

#: Training label -> estimator options.
TRAININGS = {"Trad.": {"loss": "none"}, "Sal.": {"loss": "sgt"}}

FIGURE_NAME = "sgt_accuracy_drop.png"


@dataclass(frozen=True)
class SGTSettings:
    """Data, training and removal grid of a run."""

    test_size: int = 500
    epochs: int = 20
    k: float = 0.5
    sigma1: float = 1.0
    lr: float = 3e-3
    batch_size: int = 64
    fractions: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    methods: tuple[str, ...] = tuple(METHODS)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)


FULL = SGTSettings()
QUICK = SGTSettings(test_size=60, epochs=1, fractions=(0.0, 0.5, 0.9),
                    methods=("Gradient", "Random"), seeds=(0,))


def removal_curve(model: Any, X: np.ndarray, y: np.ndarray, saliency: np.ndarray,
                  fractions: tuple[float, ...], background: float = 0.0) -> np.ndarray:
    """Accuracy after replacing each image's top ``fraction`` of pixels by ``background``.

    Pixels are ranked per image by saliency (highest first, ties in pixel
    order); ``round(fraction * H * W)`` of them are replaced in every channel.

    Examples
    --------
    >>> class FirstPixel:
    ...     def predict(self, X):
    ...         return (X[:, 0, 0, 0] > 0).astype(int)
    >>> X = np.ones((2, 1, 2, 2))
    >>> right = np.array([[[1.0, 0.0], [0.0, 0.0]]] * 2)
    >>> removal_curve(FirstPixel(), X, np.array([1, 1]), right, (0.0, 0.25, 0.5)).tolist()
    [1.0, 0.0, 0.0]
    >>> removal_curve(FirstPixel(), X, np.array([1, 1]), -right, (0.0, 0.25, 0.5)).tolist()
    [1.0, 1.0, 1.0]
    """
    n_pixels = saliency[0].size
    order = np.argsort(-saliency.reshape(len(saliency), -1), axis=1, kind="stable")
    accuracy = []
    for fraction in fractions:
        removed = order[:, : round(fraction * n_pixels)]
        mask = np.zeros((len(X), n_pixels), dtype=bool)
        np.put_along_axis(mask, removed, True, axis=1)
        masked = np.where(mask.reshape(len(X), 1, *saliency.shape[1:]), background, X)
        accuracy.append(float(np.mean(model.predict(masked.astype(np.float32)) == y)))
    return np.asarray(accuracy)


def _fit(settings: SGTSettings, training: str, seed: int, X: np.ndarray, y: np.ndarray) -> Any:
    from xsup import ExplanationSupervisedClassifier

    options = dict(TRAININGS[training])
    if options["loss"] == "sgt":
        options.update(k=settings.k, sigma1=settings.sigma1)
    return ExplanationSupervisedClassifier(
        module="cnn", explainer="gradient", max_epochs=settings.epochs, lr=settings.lr,
        batch_size=settings.batch_size, train_split=None, verbose=0, random_state=seed,
        **options).fit(X, y)


def _explain(model: Any, method: str, X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    from xsup import plugins

    name = METHODS[method]
    options = {"random_state": seed} if "random_state" in plugins.get(
        "explainers", name)().get_params() else {}
    return model.explain(X, method=name, target=y, **options)


def run(out: Path, *, quick: bool = False, seeds: tuple[int, ...] | None = None) -> BenchResult:
    """Train both ways for every seed; remove pixels by every method's saliency; draw the curves.

    The arguments are those of every benchmark's ``run`` (see :mod:`xsup.bench`);
    the result holds the area table, the claims and every curve per seed.
    """
    from xsup.datasets import load_decoy_digits

    settings = mode_settings(FULL, QUICK, quick=quick, seeds=seeds)
    progress = Progress(len(settings.seeds) * len(TRAININGS) + 1)
    curves: dict[str, dict[str, list[list[float]]]] = {
        training: {method: [] for method in settings.methods} for training in TRAININGS}
    accuracy: dict[str, dict[str, list[float]]] = {training: {"Accuracy": []}
                                                    for training in TRAININGS}
    for seed in settings.seeds:
        X, y, _, X_test, y_test, _ = load_decoy_digits(
            random_state=seed, test_size=settings.test_size, train_decoy=False,
            test_decoy="absent")
        for training in TRAININGS:
            progress.step(f"seed {seed}: {training} training, then pixel removal")
            started = time.perf_counter()
            model = _fit(settings, training, seed, X, y)
            accuracy[training]["Accuracy"].append(float(model.score(X_test, y_test)))
            for method in settings.methods:
                saliency = _explain(model, method, X_test, y_test, seed)
                curves[training][method].append(removal_curve(
                    model, X_test, y_test, saliency, settings.fractions).tolist())
            progress.note(f"    test accuracy {accuracy[training]['Accuracy'][-1]:.3f}  "
                          f"[{time.perf_counter() - started:.0f} s]")
    progress.step(f"figure {FIGURE_NAME}")
    out.mkdir(parents=True, exist_ok=True)
    _draw(curves, settings, out / FIGURE_NAME)
    areas = {training: {method: [_area(curve, settings.fractions) for curve in rows]
                        for method, rows in by_method.items()}
             for training, by_method in curves.items()}
    claims = _claims(areas, settings)
    table = {method: {training: areas[training][method] for training in TRAININGS}
             for method in settings.methods}
    return BenchResult(
        name="sgt", title="SGT Fig. 3: accuracy drop as the most salient pixels of digits are "
        "removed", intro=_intro(settings),
        tables={"Area under the accuracy-removal curve (lower: a steeper drop, better)":
                format_table(table, list(TRAININGS), lower_is_better=TRAININGS),
                "Test accuracy before any removal": format_table(accuracy, ["Accuracy"],
                                                                 first_column="training"),
                "The paper's claims, paired over seeds": format_claims(claims)},
        data={"fractions": list(settings.fractions), "curves": curves, "areas": areas,
              "accuracy": accuracy, "claims": [claim.to_dict() for claim in claims]},
        settings={**asdict(settings), "methods_explainers": METHODS, "trainings": TRAININGS},
        figures=[FIGURE_NAME], notes=f"## How the claims are decided\n\n{VERDICT_RULE}",
    )


def _area(curve: list[float], fractions: tuple[float, ...]) -> float:
    """Area under accuracy against the removed fraction (trapezoidal rule)."""
    from sklearn.metrics import auc

    return float(auc(fractions, curve))


def _claims(areas: dict[str, dict[str, list[float]]], settings: SGTSettings) -> list[Claim]:
    """SGT steeper than traditional training per method; every method steeper than random."""
    methods = [method for method in settings.methods if method != "Random"]
    claims = [Claim.check(f"{method}: saliency-guided training drops faster than traditional",
                          areas["Sal."][method], areas["Trad."][method], lower_is_better=True)
              for method in methods]
    if "Random" in settings.methods:
        claims += [Claim.check(f"{method} drops faster than random removal ({training})",
                               areas[training][method], areas[training]["Random"],
                               lower_is_better=True)
                   for training in TRAININGS for method in methods]
    return claims


def _draw(curves: dict[str, dict[str, list[list[float]]]], settings: SGTSettings,
          path: Path) -> None:
    """One panel per method: mean ± std accuracy of both trainings, random removal dashed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    methods = [method for method in settings.methods if method != "Random"]
    figure = Figure(figsize=(3.3 * len(methods), 3.2), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(methods)))
    for ax, method in zip(axes, methods):
        for training in TRAININGS:
            for label, style in ((method, "-"), ("Random", "--")):
                if label not in curves[training]:
                    continue
                rows = np.asarray(curves[training][label])
                stats = [mean_std(rows[:, i]) for i in range(rows.shape[1])]
                mean = np.array([m for m, _ in stats])
                std = np.array([s for _, s in stats])
                line, = ax.plot(settings.fractions, mean, linestyle=style, marker="o",
                                markersize=3, label=f"{label}, {training}")
                ax.fill_between(settings.fractions, mean - std, mean + std,
                                color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set(title=method, xlabel="share of pixels removed (most salient first)",
               ylabel="test accuracy", ylim=(0, 1.02))
        ax.legend(fontsize="x-small")
    FigureCanvasAgg(figure).print_png(str(path))


def _intro(settings: SGTSettings) -> str:
    return f"""\
Data: scikit-learn's 8 x 8 digits scaled to [0, 1] (`load_decoy_digits(random_state=s,
train_decoy=False, test_decoy="absent")`: no decoy, {settings.test_size} test images, the rest
for training), per seed s in {', '.join(map(str, settings.seeds))}. Model: the residual `cnn`,
{settings.epochs} epochs, Adam lr {settings.lr:g}, batch {settings.batch_size}; traditional
training (`loss="none"`) and saliency-guided training (`loss="sgt"`, k = {settings.k:g} as the
SGT paper uses for MNIST, lambda = sigma1 = {settings.sigma1:g}, gradient saliency).

Evaluation (SGT §4.1, Fig. 3): each method explains the true class of every test image; its
pixels are ranked by saliency and the top {', '.join(f'{f:.0%}' for f in settings.fractions)}
are set to 0, the digits' background (the in-distribution replacement the paper argues for);
the test accuracy is read at each share. Random: the `random` explainer's maps, i.e. random
removal. Area: under accuracy against the removed share (trapezoidal rule over the shares
above); lower is a steeper drop."""
