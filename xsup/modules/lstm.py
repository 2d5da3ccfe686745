"""Single-layer LSTM classifier for multivariate time series."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from xsup.base import Backbone
from xsup.constraints import Interval
from xsup.spec import InputKind


class LSTM(Backbone):
    """``(N, T, F) -> (N, n_outputs)``: dropout, LSTM, dropout, last step, linear.

    The defaults are the sizes of the time-series saliency benchmark (Ismail
    et al. 2020): 5 hidden units and dropout 0.1 on the input and on the
    last hidden state. The network returns logits; the estimator applies the
    loss (the benchmark's extra softmax before its cross-entropy is not kept).

    Parameters
    ----------
    input_shape : tuple of int
        ``(T, F)``.
    n_outputs : int
        Number of outputs.
    hidden : int, default=5
        Size of the LSTM state.
    dropout : float, default=0.1
        Dropout probability on the input series and on the last hidden state.

    Notes
    -----
    The network has no convolution (``gradcam_layer`` is None), so
    ``explainer="auto"`` trains through input gradients. On CUDA the
    estimator runs the LSTM without cuDNN while explaining, because cuDNN's
    recurrent kernels cannot be differentiated twice.

    Examples
    --------
    >>> import torch
    >>> model = LSTM((50, 50), 2)
    >>> model(torch.randn(3, 50, 50)).shape
    torch.Size([3, 2])
    >>> sum(p.numel() for p in model.parameters())
    1152
    """

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("time_series",)
    gradcam_layer: ClassVar[str | None] = None

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden": [Interval("int", 1, None)],
        "dropout": [Interval("real", 0, 1, closed="left")],
    }

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        hidden: int = 5,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(input_shape, n_outputs)
        self.hidden = hidden
        self.dropout = dropout
        self.input_dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(input_shape[-1], hidden, batch_first=True)
        self.state_dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Map ``(N, T, F)`` series to ``(N, n_outputs)`` outputs."""
        states, _ = self.lstm(self.input_dropout(X))
        return self.head(self.state_dropout(states[:, -1]))
