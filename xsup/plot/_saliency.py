"""Saliency maps of several methods over the input frames, with the annotation outlined."""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_saliency_overlays"]

INSTALL_HINT = 'plotting needs matplotlib: pip install "xsup[plot]"'


def _import_matplotlib() -> Any:
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return Figure


def _real_array(value: Any, name: str) -> np.ndarray:
    """``value`` (array-like or torch.Tensor) as a float64 array; TypeError if not real numbers."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must hold real numbers; got {type(value).__name__}.") from error


def _save_png(figure: Figure, path: str | PathLike[str] | None) -> None:
    """Write ``figure`` to ``path`` as a PNG with matplotlib's Agg renderer (nothing if None)."""
    if path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(figure)
        figure.savefig(path, format="png", dpi=100)


def _one_sample(value: Any, name: str, index: int) -> np.ndarray:
    """``value[index]`` as a float array; only that sample is read (memory maps, tensors)."""
    try:
        n_samples = len(value)
    except TypeError:
        message = f"{name} must be an array of samples; got {type(value).__name__}."
        raise TypeError(message) from None
    if index >= n_samples:
        raise ValueError(f"index={index} is out of range for {name} with {n_samples} samples.")
    sample = value[index]
    if hasattr(sample, "detach") and hasattr(sample, "cpu"):  # torch.Tensor
        sample = sample.detach().cpu().numpy()
    try:
        return np.asarray(sample, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must hold real numbers; got {type(value).__name__}.") from error


def _frames(value: Any, name: str, index: int, expected: tuple[int, ...]) -> np.ndarray:
    """Sample ``index`` of maps or annotations as ``(T, H, W)``, checked against X's frames."""
    frames = _one_sample(value, name, index)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.shape != expected:
        shown = expected if expected[0] > 1 else expected[1:]
        raise ValueError(
            f"{name} has samples of shape {tuple(frames.shape)}, but X implies {shown} "
            "(one H x W map per frame)."
        )
    return frames


def _outline(ax: Any, mask: np.ndarray, zoom: int = 8) -> None:
    """Outline the positive (solid) and negative (dashed) annotation cells along cell edges."""
    if not np.isfinite(mask).any():
        return
    filled = np.nan_to_num(mask, nan=0.0)
    height, width = filled.shape
    # Contour a zoomed, zero-padded copy so that corners stay square and borders close.
    rows = -0.5 + (np.arange(height * zoom + 2) - 0.5) / zoom
    cols = -0.5 + (np.arange(width * zoom + 2) - 0.5) / zoom
    for cells, style, colour in ((filled > 0, "solid", "lime"), (filled < 0, "dashed", "magenta")):
        if cells.any():
            fine = np.pad(np.kron(cells, np.ones((zoom, zoom))), 1)
            ax.contour(cols, rows, fine, levels=[0.5], colors=colour, linewidths=1.2,
                       linestyles=style)


def plot_saliency_overlays(
    X: Any,
    maps: Mapping[str, Any],
    E: Any = None,
    *,
    index: int = 0,
    path: str | PathLike[str] | None = None,
) -> Figure:
    """Show one sample's frames, its annotation and each method's saliency map.

    Rows: the input (channels averaged, grey), the annotation (outlined on the
    input: solid for cells that should matter, dashed for cells that should
    not; "missing" for a missing frame), then one row per method with its map
    as a heat map over the input, annotation outlined. Columns: time steps (a
    single column for images).

    Parameters
    ----------
    X : array-like or torch.Tensor
        Raster sequences ``(N, T, C, H, W)`` or images ``(N, C, H, W)``.
    maps : mapping of str to array-like
        Method name to saliency maps shaped like E, ``(N, T, H, W)`` or
        ``(N, H, W)``, normalised to [0, 1] (as ``explain`` returns them).
    E : array-like, optional
        Annotations ``(N, T, H, W)`` or ``(N, H, W)``; no annotation row when None.
    index : int, default=0
        Which sample to show.
    path : str or path-like, optional
        Save the figure there as a PNG (with matplotlib's Agg renderer).

    Returns
    -------
    matplotlib.figure.Figure
        The figure; it is not registered with ``pyplot``, so nothing needs closing.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install "xsup[plot]"``).
    ValueError
        Shapes that do not fit together, or ``index`` out of range.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(2, 3, 1, 8, 8))
    >>> E = np.zeros((2, 3, 8, 8)); E[:, :, 2:5, 2:5] = 1
    >>> fig = plot_saliency_overlays(X, {"gradcam": np.abs(X[:, :, 0])}, E, index=1)
    >>> len(fig.axes)  # 3 rows (input, annotation, gradcam) x 3 time steps, and a colour bar
    10
    """
    Figure = _import_matplotlib()
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or index < 0:
        raise ValueError(f"index must be a non-negative int; got {index!r}.")
    sample = _one_sample(X, "X", index)
    if sample.ndim not in (3, 4):
        raise ValueError(
            "X must hold raster sequences (N, T, C, H, W) or images (N, C, H, W); "
            f"got samples of shape {sample.shape}."
        )
    if not isinstance(maps, Mapping):
        raise TypeError(f"maps must map method names to saliency maps; got {type(maps).__name__}.")
    # Channels averaged; an image is a sequence of one frame.
    frames = sample.mean(axis=1) if sample.ndim == 4 else sample.mean(axis=0)[None]
    mask = None if E is None else _frames(E, "E", index, frames.shape)
    methods = {
        str(name): _frames(m, f"maps[{name!r}]", index, frames.shape) for name, m in maps.items()
    }

    rows = [("input", None)] + ([("annotation", None)] if mask is not None else [])
    rows += [(name, saliency) for name, saliency in methods.items()]
    n_rows, n_cols = len(rows), frames.shape[0]
    figure = Figure(figsize=(1.8 * n_cols + 0.8, 1.8 * n_rows), layout="constrained")
    axes = np.asarray(figure.subplots(n_rows, n_cols, squeeze=False))
    limit = float(np.abs(frames).max()) or 1.0
    image = None
    for column in range(n_cols):
        for row, (label, saliency) in enumerate(rows):
            ax = axes[row, column]
            ax.set_xticks([])
            ax.set_yticks([])
            faint = 1.0 if row == 0 else 0.45
            ax.imshow(frames[column], cmap="gray", vmin=-limit, vmax=limit, alpha=faint)
            if saliency is not None:
                image = ax.imshow(saliency[column], cmap="inferno", vmin=0.0, vmax=1.0, alpha=0.65)
            if mask is not None and row > 0:
                _outline(ax, mask[column])
                if row == 1 and not np.isfinite(mask[column]).any():
                    ax.text(0.5, 0.5, "missing", ha="center", va="center", color="red",
                            transform=ax.transAxes)
            if column == 0:
                ax.set_ylabel(label)
            if row == 0 and n_cols > 1:
                ax.set_title(f"t = {column}")
    if image is not None:
        figure.colorbar(image, ax=axes[:, -1].tolist(), shrink=0.8, label="saliency")
    _save_png(figure, path)
    return figure
