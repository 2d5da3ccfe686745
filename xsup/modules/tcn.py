"""Temporal convolutional network for multivariate time series."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm as weight_normalized

from xsup.base import Backbone
from xsup.constraints import InstanceOf, Interval, SequenceOf
from xsup.spec import InputKind


class CausalBlock(nn.Module):
    """Two dilated causal convolutions with a residual connection.

    ``relu(dropout(conv2(dropout(relu(conv1(x))))) + skip(x))``, where each
    convolution only sees the current and earlier steps (left padding).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int,
        dropout: float = 0.0,
        weight_norm: bool = False,
    ) -> None:
        super().__init__()
        self.left_padding = (kernel_size - 1) * dilation
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel_size, dilation=dilation)
        if weight_norm:
            self.conv1 = weight_normalized(self.conv1)
            self.conv2 = weight_normalized(self.conv2)
        self.skip: nn.Module = (
            nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        )
        # ReLU modules, one per use, so that DeepLift-style explainers see the nonlinearities.
        self.relu1 = nn.ReLU()
        self.relu2 = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dropout1(self.relu1(self.conv1(F.pad(x, (self.left_padding, 0)))))
        out = self.dropout2(self.conv2(F.pad(out, (self.left_padding, 0))))
        return self.relu2(out + self.skip(x))


class TCN(Backbone):
    """``(N, T, F) -> (N, n_outputs)``: causal dilated convolutions, max over time.

    Block ``i`` has dilation ``2**i``; the output of the last block is
    max-pooled over time and mapped to the outputs by a linear layer. The
    time-series saliency benchmark (Ismail et al. 2020) uses
    ``channels=(5, 5, 50), kernel_size=4, dropout=0.1, weight_norm=True``.

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
    dropout : float, default=0.0
        Dropout probability after each convolution of a block (before the
        residual sum for the second one).
    weight_norm : bool, default=False
        Reparametrise the two convolutions of every block by weight
        normalisation (direction and norm learned separately), as the TCN of
        Bai et al. (2018) does. Adds ``parametrizations`` entries to the
        state dict.

    Examples
    --------
    >>> import torch
    >>> model = TCN((50, 50), 2, channels=(5, 5, 50), kernel_size=4, dropout=0.1, weight_norm=True)
    >>> model(torch.randn(3, 50, 50)).shape
    torch.Size([3, 2])
    """

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("time_series",)
    gradcam_layer: ClassVar[str | None] = "blocks"

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "channels": [SequenceOf(Interval("int", 1, None))],
        "kernel_size": [Interval("int", 1, None)],
        "dropout": [Interval("real", 0, 1, closed="left")],
        "weight_norm": [InstanceOf(bool)],
    }

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        channels: tuple[int, ...] = (32, 32),
        kernel_size: int = 3,
        dropout: float = 0.0,
        weight_norm: bool = False,
    ) -> None:
        super().__init__(input_shape, n_outputs)
        self.channels = channels
        self.kernel_size = kernel_size
        self.dropout = dropout
        self.weight_norm = weight_norm
        widths = (input_shape[-1],) + tuple(channels)
        self.blocks = nn.Sequential(
            *(
                CausalBlock(widths[i], widths[i + 1], kernel_size, 2**i, dropout, weight_norm)
                for i in range(len(channels))
            )
        )
        self.head = nn.Linear(channels[-1], n_outputs)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Map ``(N, T, F)`` series to ``(N, n_outputs)`` outputs."""
        return self.head(self.blocks(X.transpose(1, 2)).amax(dim=-1))
