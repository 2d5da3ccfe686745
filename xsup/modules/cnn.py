"""Small residual convolutional network for images."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from xsup.base import Backbone
from xsup.constraints import Interval, SequenceOf
from xsup.spec import InputKind


class ResidualBlock(nn.Module):
    """ResNet basic block: two 3x3 convolutions with batch norm and a skip connection."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        # ReLU modules, one per use, so that DeepLift-style explainers see the nonlinearities.
        self.relu1 = nn.ReLU()
        self.relu2 = nn.ReLU()
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.skip = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.skip(x))


def conv_encoder(in_channels: int, channels: tuple[int, ...]) -> nn.Sequential:
    """Stack of residual blocks; every block after the first halves H and W."""
    blocks = []
    width = in_channels
    for index, size in enumerate(channels):
        blocks.append(ResidualBlock(width, size, stride=1 if index == 0 else 2))
        width = size
    return nn.Sequential(*blocks)


class CNN(Backbone):
    """Residual CNN, ``(N, C, H, W) -> (N, n_outputs)``; Grad-CAM on ``encoder``.

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)``.
    n_outputs : int
        Number of outputs.
    channels : tuple of int, default=(16, 32)
        Width of each residual block; each block after the first halves H and W.
    """

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("images",)
    gradcam_layer: ClassVar[str | None] = "encoder"

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "channels": [SequenceOf(Interval("int", 1, None))],
    }

    def __init__(
        self, input_shape: tuple[int, ...], n_outputs: int, channels: tuple[int, ...] = (16, 32)
    ) -> None:
        super().__init__(input_shape, n_outputs)
        self.channels = channels
        self.encoder = conv_encoder(input_shape[0], channels)
        self.head = nn.Linear(channels[-1], n_outputs)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Map ``(N, C, H, W)`` images to ``(N, n_outputs)`` outputs."""
        return self.head(self.encoder(X).mean(dim=(-2, -1)))
