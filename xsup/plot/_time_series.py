"""Saliency maps of multivariate time series: a grid of time x feature heat maps."""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np

from xsup.plot._saliency import _import_matplotlib, _outline, _real_array, _save_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_time_series_saliency"]


def _map(value: Any, name: str) -> np.ndarray:
    """One sample's ``(T, F)`` map as a float array."""
    array = _real_array(value, name)
    if array.ndim != 2:
        raise ValueError(f"{name} must be one sample's (T, F) map; got shape {array.shape}.")
    return array


def plot_time_series_saliency(
    maps: Mapping[str, Mapping[str, Any]],
    boxes: Mapping[str, Any] | None = None,
    *,
    path: str | PathLike[str] | None = None,
) -> Figure:
    """Heat maps of one series per panel: columns are data sets, rows are methods.

    Each panel shows a ``(T, F)`` map with time along the horizontal axis and
    features along the vertical one, as the time-series saliency benchmark
    draws them; the annotation (the informative box) is outlined.

    Parameters
    ----------
    maps : mapping of str to mapping of str to array-like
        Column title (e.g. the data set) -> method name -> one ``(T, F)`` map
        in [0, 1]. Rows follow the order in which methods first appear; a
        method missing from a column leaves its panel empty.
    boxes : mapping of str to array-like, optional
        Column title -> the ``(T, F)`` annotation to outline.
    path : str or path-like, optional
        Save the figure there as a PNG.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not registered with ``pyplot``).

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install "xsup[plot]"``).
    TypeError, ValueError
        ``maps`` is not a mapping of mappings, or a map is not ``(T, F)``, or a
        box's shape differs from its column's maps.

    Examples
    --------
    >>> import numpy as np
    >>> box = np.zeros((6, 4)); box[2:4, 1:3] = 1
    >>> figure = plot_time_series_saliency(
    ...     {"middle": {"gradient": box * 0.9, "random": np.full((6, 4), 0.5)}}, {"middle": box})
    >>> [ax.get_ylabel() for ax in figure.axes[:2]]
    ['gradient', 'random']
    """
    Figure = _import_matplotlib()
    if not isinstance(maps, Mapping) or not maps or not all(
            isinstance(column, Mapping) for column in maps.values()):
        raise TypeError("maps must map column titles to mappings of method name -> (T, F) map; "
                        f"got {type(maps).__name__}.")
    methods = list(dict.fromkeys(name for column in maps.values() for name in column))
    figure = Figure(figsize=(2.6 * len(maps) + 0.8, 2.2 * len(methods)), layout="constrained")
    axes = np.asarray(figure.subplots(len(methods), len(maps), squeeze=False))
    image = None
    for col, (title, column) in enumerate(maps.items()):
        box = None
        if boxes is not None and title in boxes:
            box = _map(boxes[title], f"boxes[{title!r}]")
        for row, method in enumerate(methods):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(str(method))
            if row == 0:
                ax.set_title(str(title))
            if method not in column:
                ax.set_axis_off()
                continue
            saliency = _map(column[method], f"maps[{title!r}][{method!r}]")
            if box is not None and box.shape != saliency.shape:
                raise ValueError(f"boxes[{title!r}] has shape {box.shape}; its maps have "
                                 f"{saliency.shape}.")
            image = ax.imshow(saliency.T, cmap="inferno", vmin=0.0, vmax=1.0, aspect="auto",
                              origin="lower")
            if box is not None:
                _outline(ax, box.T, zoom=2)
    axes[-1, 0].set_xlabel("time")
    if image is not None:
        figure.colorbar(image, ax=axes[:, -1].tolist(), shrink=0.8, label="saliency")
    _save_png(figure, path)
    return figure
