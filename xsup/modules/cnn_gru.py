"""Residual CNN per frame followed by a GRU over time, as in STES."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from xsup.base import Backbone
from xsup.constraints import Interval, SequenceOf
from xsup.modules.cnn import conv_encoder
from xsup.spec import InputKind


class CNNGRU(Backbone):
    """``(N, T, C, H, W) -> (N, n_outputs)``: shared CNN on every frame, GRU, last step.

    The encoder sees the frames sample-major, as ``(N * T, C, H, W)``, which is
    the layout Grad-CAM expects of the ``encoder`` layer.

    Parameters
    ----------
    input_shape : tuple of int
        ``(T, C, H, W)``.
    n_outputs : int
        Number of outputs.
    channels : tuple of int, default=(16, 32)
        Width of each residual block of the frame encoder.
    hidden : int, default=32
        GRU hidden size (STES uses 32).
    """

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("raster_sequences",)
    gradcam_layer: ClassVar[str | None] = "encoder"

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "channels": [SequenceOf(Interval("int", 1, None))],
        "hidden": [Interval("int", 1, None)],
    }

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        channels: tuple[int, ...] = (16, 32),
        hidden: int = 32,
    ) -> None:
        super().__init__(input_shape, n_outputs)
        self.channels = channels
        self.hidden = hidden
        self.encoder = conv_encoder(input_shape[1], channels)
        self.gru = nn.GRU(channels[-1], hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Map ``(N, T, C, H, W)`` sequences to ``(N, n_outputs)`` outputs."""
        n_samples, n_steps = X.shape[:2]
        frames = self.encoder(X.reshape(n_samples * n_steps, *X.shape[2:]))
        features = frames.mean(dim=(-2, -1)).reshape(n_samples, n_steps, -1)
        states, _ = self.gru(features)
        return self.head(states[:, -1])
