"""Multilayer perceptron for tabular data."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from xsup.base import Backbone
from xsup.constraints import Interval, SequenceOf
from xsup.spec import InputKind


class MLP(Backbone):
    """Fully connected ReLU network, ``(N, F) -> (N, n_outputs)``.

    Parameters
    ----------
    input_shape : tuple of int
        ``(F,)``.
    n_outputs : int
        Number of outputs.
    hidden : tuple of int, default=(64, 64)
        Width of each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    """

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("tabular",)

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden": [SequenceOf(Interval("int", 1, None), min_length=0)],
        "dropout": [Interval("real", 0, 1, closed="left")],
    }

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        hidden: tuple[int, ...] = (64, 64),
        dropout: float = 0.0,
    ) -> None:
        super().__init__(input_shape, n_outputs)
        self.hidden = hidden
        self.dropout = dropout
        layers: list[nn.Module] = []
        width = input_shape[-1]
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.network = nn.Sequential(*layers)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Map ``(N, F)`` inputs to ``(N, n_outputs)`` outputs."""
        return self.network(X)
