"""Convolutional LSTM over raster sequences (Shi et al. 2015), as in Robin et al.'s reach study."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from xsup.base import Backbone
from xsup.constraints import Interval, Options, SequenceOf
from xsup.spec import InputKind

__all__ = ["ConvLSTM", "ConvLSTMCell"]


class ConvLSTMCell(nn.Module):
    """One ConvLSTM layer: LSTM gates computed by a convolution over ``[x_t, h_{t-1}]``.

    ``i, f, o, g = conv([x_t, h_{t-1}])``; ``c_t = σ(f) c_{t-1} + σ(i) tanh(g)``;
    ``h_t = σ(o) tanh(c_t)``. States keep the frame's height and width
    (``same`` padding), so each step widens the spatial reach by
    ``kernel_size // 2`` pixels.

    Parameters
    ----------
    in_channels : int
        Channels of the input frames.
    hidden : int
        Channels of the hidden and cell states.
    kernel_size : int
        Odd side of the square gate convolution.

    Examples
    --------
    >>> cell = ConvLSTMCell(2, 4, 3)
    >>> h, c = cell(torch.zeros(5, 2, 8, 8), cell.initial_state(torch.zeros(5, 2, 8, 8)))
    >>> tuple(h.shape), tuple(c.shape)
    ((5, 4, 8, 8), (5, 4, 8, 8))
    """

    def __init__(self, in_channels: int, hidden: int, kernel_size: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel_size,
                               padding=kernel_size // 2)

    def initial_state(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero hidden and cell states for a batch of frames ``(N, C, H, W)``."""
        zeros = frame.new_zeros(frame.shape[0], self.hidden, *frame.shape[-2:])
        return zeros, zeros

    def forward(self, frame: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step: ``(x_t, (h, c)) -> (h_t, c_t)``."""
        hidden, cell = state
        i, f, o, g = self.gates(torch.cat([frame, hidden], dim=1)).chunk(4, dim=1)
        cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(cell), cell


class ConvLSTM(Backbone):
    """``(N, T, C, H, W) -> (N, n_outputs)``: frame encoder, stacked ConvLSTM layers, head.

    A 3 x 3 convolution with ReLU encodes every frame (the Grad-CAM layer
    ``encoder``, which sees the frames sample-major as ``(N * T, C, H, W)``);
    ConvLSTM layers run over the encoded frames in time order; the last
    layer's hidden state after the last frame is averaged over the frame
    (``readout="mean"``) or read at every pixel (``readout="flatten"``, which
    knows where things are) and mapped to the outputs by a linear layer.
    The outputs are logits for a classifier and values for a regressor.

    Parameters
    ----------
    input_shape : tuple of int
        ``(T, C, H, W)``.
    n_outputs : int
        Number of outputs.
    channels : int, default=16
        Channels of the frame encoder.
    hidden : tuple of int, default=(16,)
        Hidden channels of each ConvLSTM layer.
    kernel_size : int, default=3
        Side of the gate convolutions: 1, 3, 5 or 7.
    readout : {"mean", "flatten"}, default="mean"
        How the last hidden state becomes the head's input.

    Examples
    --------
    >>> model = ConvLSTM((6, 2, 9, 9), n_outputs=3, hidden=(8, 8))
    >>> tuple(model(torch.zeros(4, 6, 2, 9, 9)).shape)
    (4, 3)
    """

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("raster_sequences",)
    gradcam_layer: ClassVar[str | None] = "encoder"

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "channels": [Interval("int", 1, None)],
        "hidden": [SequenceOf(Interval("int", 1, None))],
        "kernel_size": [Options(1, 3, 5, 7)],
        "readout": [Options("mean", "flatten")],
    }

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        channels: int = 16,
        hidden: tuple[int, ...] = (16,),
        kernel_size: int = 3,
        readout: str = "mean",
    ) -> None:
        super().__init__(input_shape, n_outputs)
        self.channels = channels
        self.hidden = hidden
        self.kernel_size = kernel_size
        self.readout = readout
        n_channels, height, width = input_shape[1:]
        self.encoder = nn.Sequential(nn.Conv2d(n_channels, channels, 3, padding=1), nn.ReLU())
        widths = (channels, *hidden)
        self.cells = nn.ModuleList(ConvLSTMCell(a, b, kernel_size)
                                   for a, b in zip(widths[:-1], widths[1:]))
        features = hidden[-1] * (height * width if readout == "flatten" else 1)
        self.head = nn.Linear(features, n_outputs)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Map ``(N, T, C, H, W)`` sequences to ``(N, n_outputs)`` outputs."""
        last = self.last_state(X)
        features = last.flatten(1) if self.readout == "flatten" else last.mean(dim=(-2, -1))
        return self.head(features)

    def last_state(self, X: torch.Tensor) -> torch.Tensor:
        """The last layer's hidden state after the last frame, ``(N, hidden[-1], H, W)``."""
        n_samples, n_steps = X.shape[:2]
        frames = self.encoder(X.reshape(n_samples * n_steps, *X.shape[2:]))
        sequence = frames.reshape(n_samples, n_steps, *frames.shape[1:])
        for cell in self.cells:
            state = cell.initial_state(sequence[:, 0])
            outputs = []
            for step in range(n_steps):
                state = cell(sequence[:, step], state)
                outputs.append(state[0])
            sequence = torch.stack(outputs, dim=1)
        return sequence[:, -1]
