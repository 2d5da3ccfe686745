"""Line plots of evaluation curves: saliency precision-recall, accuracy drop, sensitivity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from xsup.plot._saliency import _import_matplotlib, _real_array

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_accuracy_drop", "plot_precision_recall", "plot_sensitivity"]


def new_figure(figsize: tuple[float, float]) -> Figure:
    """An empty figure with constrained layout, not registered with pyplot."""
    return _import_matplotlib()(figsize=figsize, layout="constrained")


def figure_and_axes(ax: Any, figsize: tuple[float, float] = (4.5, 3.5)) -> tuple[Figure, Axes]:
    """A new figure with one Axes, or the figure of ``ax``."""
    if ax is None:
        figure = new_figure(figsize)
        return figure, figure.subplots()
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}.")
    return ax.figure, ax


def _vector(value: Any, name: str) -> np.ndarray:
    """A 1-D float array of real numbers (NaN allowed: matplotlib leaves a gap)."""
    array = _real_array(value, name)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence; got shape {array.shape}.")
    if np.isinf(array).any():
        raise ValueError(f"{name} contains infinity; curves must be finite (NaN leaves a gap).")
    return array


def _curves(curves: Any, parts: tuple[str, ...], keys: Mapping[str, str] | None = None,
            optional_last: bool = False) -> dict[str, list[np.ndarray | None]]:
    """Check ``{label: (x, y, ...)}``; a value may also be a metric's result dict (``keys``)."""
    if not isinstance(curves, Mapping) or not curves:
        got = type(curves).__name__ if not isinstance(curves, Mapping) else "an empty mapping"
        raise TypeError(f"curves must be a non-empty mapping of labels to ({', '.join(parts)}); "
                        f"got {got}.")
    checked: dict[str, list[np.ndarray | None]] = {}
    for label, value in curves.items():
        where = f"curves[{label!r}]"
        if keys is not None and isinstance(value, Mapping):
            missing = [key for key in keys.values() if key not in value]
            if missing:
                raise ValueError(f"{where} is a mapping without the keys {missing}.")
            value = tuple(value[keys[part]] for part in parts)
        if not isinstance(value, (tuple, list)) or len(value) != len(parts):
            got = type(value).__name__
            if isinstance(value, (tuple, list)):
                got += f" of length {len(value)}"
            raise ValueError(f"{where} must be a tuple ({', '.join(parts)}); got {got}.")
        arrays: list[np.ndarray | None] = []
        for part, item in zip(parts, value):
            if item is None and optional_last and part == parts[-1]:
                arrays.append(None)
                continue
            arrays.append(_vector(item, f"{where} {part}"))
        lengths = {len(a) for a in arrays if a is not None}
        if len(lengths) != 1:
            raise ValueError(f"{where} must have {', '.join(parts)} of one length; got lengths "
                             f"{[len(a) for a in arrays if a is not None]}.")
        checked[str(label)] = arrays
    return checked


def _draw_lines(checked: dict[str, list[np.ndarray | None]], ax: Any, title: str | None, *,
                sort: bool, **axis_settings: Any) -> Figure:
    """One marked line per checked ``(x, y)`` curve, joined in order of x when ``sort``."""
    figure, axes = figure_and_axes(ax)
    for label, (x, y) in checked.items():
        order = np.argsort(x, kind="stable") if sort else slice(None)
        axes.plot(x[order], y[order], marker="o", markersize=3, label=label)
    axes.set(**axis_settings)
    if title is not None:
        axes.set_title(title)
    axes.legend(fontsize="small")
    return figure


def plot_precision_recall(
    curves: Mapping[str, Any], *, ax: Any = None, title: str | None = None
) -> Figure:
    """Saliency precision against recall, one line per method.

    Parameters
    ----------
    curves : mapping of str to (recall, precision)
        Per method, the recall and precision at each saliency share. The
        result of :func:`xsup.metrics.saliency_precision_recall` can be
        passed as it is (its ``"recall"`` and ``"precision"`` are read):
        ``plot_precision_recall({"gradient": saliency_precision_recall(S, E)})``.
        The points are joined in order of recall, as ``AUPR`` integrates them.
    ax : matplotlib Axes, optional
        Draw there; default a new figure.
    title : str, optional
        Title of the Axes.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not registered with ``pyplot``: nothing needs closing).

    Raises
    ------
    ImportError
        matplotlib is not installed.
    TypeError, ValueError
        ``curves`` is empty, or a curve is not two 1-D sequences of one length.

    Examples
    --------
    >>> from xsup.metrics import saliency_precision_recall
    >>> S = [[[0.6, 0.3], [0.1, 0.0]]]
    >>> E = [[[1, 0], [1, 0]]]
    >>> fig = plot_precision_recall({"gradient": saliency_precision_recall(S, E),
    ...                              "random": ([0.2, 0.5, 0.9], [0.5, 0.5, 0.5])})
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['gradient', 'random']
    """
    checked = _curves(curves, ("recall", "precision"),
                      {"recall": "recall", "precision": "precision"})
    return _draw_lines(checked, ax, title, sort=True, xlabel="recall", ylabel="precision",
                       xlim=(0, 1.02), ylim=(0, 1.02))


def plot_accuracy_drop(
    curves: Mapping[str, Any], *, ax: Any = None, title: str | None = None
) -> Figure:
    """Accuracy against the fraction of saliency masked, one line per method.

    Parameters
    ----------
    curves : mapping of str to (fraction, accuracy)
        Per method, the masked share of saliency in [0, 1] and the accuracy
        there. The result of :func:`xsup.metrics.accuracy_drop` can be passed
        as it is (its ``"percentages"`` are divided by 100):
        ``plot_accuracy_drop({"gradient": accuracy_drop(clf, X, y, S, replacement=0.0)})``.
    ax : matplotlib Axes, optional
        Draw there; default a new figure.
    title : str, optional
        Title of the Axes.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not registered with ``pyplot``: nothing needs closing).

    Raises
    ------
    ImportError
        matplotlib is not installed.
    TypeError, ValueError
        ``curves`` is empty, a curve is not two 1-D sequences of one length,
        or fractions lie outside [0, 1] (percentages need dividing by 100).

    Examples
    --------
    >>> fig = plot_accuracy_drop({"gradient": ([0, 0.5, 1], [0.9, 0.6, 0.5]),
    ...                           "random": {"percentages": [0, 50, 100],
    ...                                      "accuracy": [0.9, 0.8, 0.5]}})
    >>> fig.axes[0].get_lines()[1].get_xdata().tolist()
    [0.0, 0.5, 1.0]
    """
    raw = dict(curves) if isinstance(curves, Mapping) else curves
    if isinstance(raw, dict):
        for label, value in raw.items():
            if isinstance(value, Mapping) and "percentages" in value and "accuracy" in value:
                percentages = _vector(value["percentages"], f"curves[{label!r}] percentages")
                raw[label] = (percentages / 100, value["accuracy"])
    checked = _curves(raw, ("fraction", "accuracy"))
    for label, (fraction, _) in checked.items():
        if ((fraction < 0) | (fraction > 1)).any():
            raise ValueError(
                f"curves[{label!r}] fraction must lie in [0, 1] (percentages divided by 100); "
                f"got values from {np.nanmin(fraction):g} to {np.nanmax(fraction):g}."
            )
    return _draw_lines(checked, ax, title, sort=False, xlabel="fraction of saliency masked",
                       ylabel="accuracy", xlim=(0, 1))


def plot_sensitivity(
    curves: Mapping[str, Any],
    *,
    ax: Any = None,
    xlabel: str = "hyperparameter value",
    ylabel: str = "score",
    log_x: bool = False,
) -> Figure:
    """Score against a hyperparameter's value, mean with a ± std band, one line per setting.

    Parameters
    ----------
    curves : mapping of str to (values, mean, std or None)
        Per line, the hyperparameter values, the mean score at each and its
        standard deviation (a shaded band of mean ± std; None draws no band).
    ax : matplotlib Axes, optional
        Draw there; default a new figure.
    xlabel, ylabel : str
        Axis labels.
    log_x : bool, default=False
        Logarithmic x axis (values must then be positive).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not registered with ``pyplot``: nothing needs closing).

    Raises
    ------
    ImportError
        matplotlib is not installed.
    TypeError, ValueError
        ``curves`` is empty, a curve's parts differ in length, a standard
        deviation is negative, or ``log_x`` with non-positive values.

    Examples
    --------
    >>> fig = plot_sensitivity({"STES": ([0.1, 1, 10], [0.4, 0.6, 0.5], [0.05, 0.02, 0.1])},
    ...                        xlabel="sigma1", ylabel="IoU", log_x=True)
    >>> ax = fig.axes[0]
    >>> ax.get_xscale(), ax.get_xlabel(), len(ax.collections)  # one shaded band
    ('log', 'sigma1', 1)
    """
    if not isinstance(log_x, bool):
        raise TypeError(f"log_x must be a bool; got {type(log_x).__name__}.")
    checked = _curves(curves, ("values", "mean", "std"), optional_last=True)
    for label, (values, _, std) in checked.items():
        if std is not None and (std < 0).any():
            raise ValueError(f"curves[{label!r}] std must be non-negative; got {np.nanmin(std):g}.")
        if log_x and (values <= 0).any():
            raise ValueError(f"log_x=True needs positive values; curves[{label!r}] has "
                             f"{np.nanmin(values):g}.")
    figure, axes = figure_and_axes(ax)
    for label, (values, mean, std) in checked.items():
        order = np.argsort(values, kind="stable")
        line, = axes.plot(values[order], mean[order], marker="o", markersize=4, label=label)
        if std is not None:
            axes.fill_between(values[order], (mean - std)[order], (mean + std)[order],
                              color=line.get_color(), alpha=0.2, linewidth=0)
    if log_x:
        axes.set_xscale("log")
    axes.set(xlabel=xlabel, ylabel=ylabel)
    axes.legend(fontsize="small")
    return figure
