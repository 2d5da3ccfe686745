"""The shape of the data an estimator was fitted on, as the plugins see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

InputKind = Literal["tabular", "time_series", "images", "raster_sequences"]
Task = Literal["classification", "regression"]

#: Input kind by the number of dimensions of ``X`` (samples included).
KIND_BY_NDIM: dict[int, InputKind] = {
    2: "tabular",
    3: "time_series",
    4: "images",
    5: "raster_sequences",
}

#: Axis layout of one sample of ``X`` per input kind.
SAMPLE_LAYOUT: dict[InputKind, str] = {
    "tabular": "(F,)",
    "time_series": "(T, F)",
    "images": "(C, H, W)",
    "raster_sequences": "(T, C, H, W)",
}


def annotation_shape(kind: InputKind, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of one sample's annotation (and saliency map) for an input kind.

    Images and raster sequences drop the channel axis; tabular data and time
    series keep every axis.

    Examples
    --------
    >>> annotation_shape("raster_sequences", (4, 1, 16, 16))
    (4, 16, 16)
    >>> annotation_shape("time_series", (50, 3))
    (50, 3)
    """
    if kind == "images":
        return tuple(sample_shape[1:])
    if kind == "raster_sequences":
        return (sample_shape[0],) + tuple(sample_shape[2:])
    return tuple(sample_shape)


@dataclass(frozen=True)
class InputSpec:
    """What the plugins know about the data before they are built.

    Parameters
    ----------
    kind : {"tabular", "time_series", "images", "raster_sequences"}
        Input kind, from the number of dimensions of ``X``.
    sample_shape : tuple of int
        Shape of one sample of ``X``.
    n_outputs : int
        Number of model outputs (classes for a classifier, targets for a regressor).
    task : {"classification", "regression"}
        What the model predicts.
    """

    kind: InputKind
    sample_shape: tuple[int, ...]
    n_outputs: int
    task: Task = "classification"

    @property
    def annotation_shape(self) -> tuple[int, ...]:
        """Shape of one sample's annotation ``E`` and saliency map."""
        return annotation_shape(self.kind, self.sample_shape)

    @property
    def is_sequence(self) -> bool:
        """Whether samples have a time axis (axis 1 of X and of E)."""
        return self.kind in ("time_series", "raster_sequences")

    @property
    def n_steps(self) -> int | None:
        """Number of time steps T, or None for inputs without time."""
        return self.sample_shape[0] if self.is_sequence else None

    @property
    def n_channels(self) -> int | None:
        """Number of channels C of images and raster sequences, else None."""
        if self.kind == "images":
            return self.sample_shape[0]
        if self.kind == "raster_sequences":
            return self.sample_shape[1]
        return None

    @property
    def n_features(self) -> int | None:
        """Number of features F of tabular data and time series, else None."""
        if self.kind in ("tabular", "time_series"):
            return self.sample_shape[-1]
        return None
