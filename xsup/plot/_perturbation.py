"""Error increase against distance and lag from an input-perturbation analysis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from xsup.plot._curves import figure_and_axes, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_perturbation"]

LABELS = {"spatial": "distance d (pixels)", "temporal": "lag Δ (frames before the prediction)"}


def _draw(axes: Any, curve: Any, error: str) -> None:
    positions, mean, std = curve.positions, curve.increase, curve.increase_std
    line, = axes.plot(positions, mean, marker="o", label="mean ± std over repeats")
    axes.fill_between(positions, mean - std, mean + std, color=line.get_color(), alpha=0.2,
                      linewidth=0)
    axes.plot(positions[~curve.significant], mean[~curve.significant], linestyle="none",
              marker="o", markerfacecolor="white", color=line.get_color())
    axes.axhline(0.0, color="grey", linewidth=0.8)
    if curve.reach is not None:
        axes.axvline(curve.reach, color="crimson", linestyle="--", label=f"reach = {curve.reach}")
    axes.set(xlabel=LABELS[curve.analysis], ylabel=f"{error} increase", title=curve.analysis)
    axes.set_xticks(positions if len(positions) <= 12 else axes.get_xticks())
    axes.legend(fontsize="small")


def plot_perturbation(result: Any, *, ax: Any = None) -> Figure:
    """Error increase against distance and lag, with the effective reach marked.

    One panel per analysis in the result (spatial, then temporal): the mean
    increase over repeats with a ± std band, hollow markers where the
    increase is not significant, and a dashed vertical line at the reach.

    Parameters
    ----------
    result : xsup.analysis.PerturbationResult
        What :func:`xsup.analysis.perturbation_analysis` returned.
    ax : matplotlib Axes or sequence of Axes, optional
        One Axes per analysis in the result; default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not registered with ``pyplot``: nothing needs closing).

    Raises
    ------
    ImportError
        matplotlib is not installed.
    TypeError
        ``result`` is not a ``PerturbationResult``.
    ValueError
        ``ax`` does not hold one Axes per analysis.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from xsup.analysis import perturbation_analysis
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 2, 1))
    >>> X = np.random.default_rng(0).normal(size=(30, 3, 2)).astype("float32")
    >>> y = X[:, -1].sum(axis=1)
    >>> result = perturbation_analysis(model, X, y, task="regression", random_state=0)
    >>> fig = plot_perturbation(result)
    >>> [ax.get_title() for ax in fig.axes]
    ['temporal']
    """
    if not all(hasattr(result, name) for name in ("spatial", "temporal", "error")):
        raise TypeError(f"result must be a PerturbationResult (from perturbation_analysis); "
                        f"got {type(result).__name__}.")
    curves = [curve for curve in (result.spatial, result.temporal) if curve is not None]
    if ax is None:
        figure = new_figure((4.2 * len(curves), 3.4))
        axes = list(np.atleast_1d(figure.subplots(1, len(curves))))
    else:
        given = list(ax) if isinstance(ax, Sequence) else [ax]
        if len(given) != len(curves):
            raise ValueError(f"ax must hold one Axes per analysis in the result ({len(curves)}); "
                             f"got {len(given)}.")
        axes = [figure_and_axes(a)[1] for a in given]
        figure = axes[0].figure
    for axes_, curve in zip(axes, curves):
        _draw(axes_, curve, result.error)
    return figure
