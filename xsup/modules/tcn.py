"""Temporal convolutional network for multivariate time series."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from xsup.base import Backbone
from xsup.spec import InputKind


class CausalBlock(nn.Module):
    """Two dilated causal convolutions with a residual connection."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.left_padding = (kernel_size - 1) * dilation
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel_size, dilation=dilation)
        self.skip: nn.Module = (
            nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.conv1(F.pad(x, (self.left_padding, 0))))
        out = self.conv2(F.pad(out, (self.left_padding, 0)))
        return torch.relu(out + self.skip(x))


class TCN(Backbone):
    """``(N, T, F) -> (N, n_outputs)``: causal dilated convolutions, max over time.

    Parameters
    ----------
    input_shape : tuple of int
        ``(T, F)``.
    n_outputs : int
        Number of outputs.
    channels : tuple of int, default=(32, 32)
        Width of each block; block ``i`` has dilation ``2**i``.
    kernel_size : int, default=3
        Temporal kernel size.
    """

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("time_series",)
    gradcam_layer: ClassVar[str | None] = "blocks"

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        channels: tuple[int, ...] = (32, 32),
        kernel_size: int = 3,
    ) -> None:
        super().__init__(input_shape, n_outputs)
        self.channels = channels
        self.kernel_size = kernel_size
        widths = (input_shape[-1],) + tuple(channels)
        self.blocks = nn.Sequential(
            *(
                CausalBlock(widths[i], widths[i + 1], kernel_size, 2**i)
                for i in range(len(channels))
            )
        )
        self.head = nn.Linear(channels[-1], n_outputs)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Map ``(N, T, F)`` series to ``(N, n_outputs)`` outputs."""
        return self.head(self.blocks(X.transpose(1, 2)).amax(dim=-1))
