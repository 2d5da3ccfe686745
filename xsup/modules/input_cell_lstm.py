"""LSTM with input-cell attention (Ismail et al. 2019)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from xsup.base import Backbone
from xsup.constraints import Interval
from xsup.spec import InputKind


class InputCellAttention(nn.Module):
    """Causal attention over the inputs seen so far, one summary per step.

    At step ``t`` the ``r`` attention hops weight the inputs ``x_1 .. x_t``
    by ``A_t = softmax_s(W2 tanh(W1 x_s))`` (softmax over ``s <= t``, one
    row per hop); the summary ``M_t = mean over hops of A_t [x_1 .. x_t]``
    has the shape of one input step. All steps are computed at once with a
    causal mask.

    Parameters
    ----------
    n_features : int
        Features per step, F.
    attention_hops : int
        Number of hops, r.
    attention_size : int
        Hidden size of the attention, d_a.
    """

    def __init__(self, n_features: int, attention_hops: int, attention_size: int) -> None:
        super().__init__()
        self.first = nn.Linear(n_features, attention_size, bias=False)
        self.second = nn.Linear(attention_size, attention_hops, bias=False)
        self.tanh = nn.Tanh()

    def scores(self, X: torch.Tensor) -> torch.Tensor:
        """Unnormalised hop scores ``W2 tanh(W1 x_s)``, shape ``(N, T, r)``."""
        return self.second(self.tanh(self.first(X)))

    def weights(self, X: torch.Tensor) -> torch.Tensor:
        """Hop-averaged causal attention weights, shape ``(N, T, T)``.

        Row ``t`` holds the weight of every step ``s`` in ``M_t``; it is zero
        for ``s > t`` and sums to one.
        """
        n_steps = X.shape[1]
        scores = self.scores(X).transpose(1, 2).unsqueeze(2)  # (N, r, 1, T): score of step s
        future = torch.ones(n_steps, n_steps, dtype=torch.bool, device=X.device).triu(1)
        scores = scores.expand(-1, -1, n_steps, -1).masked_fill(future, float("-inf"))
        return torch.softmax(scores, dim=-1).mean(dim=1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Summaries ``M``, shape ``(N, T, F)``: row ``t`` depends on ``X[:, :t + 1]`` only."""
        return self.weights(X) @ X


class InputCellLSTM(Backbone):
    """``(N, T, F) -> (N, n_outputs)``: LSTM whose input at step t is an attention summary.

    Input-cell attention (Ismail et al. 2019) feeds the LSTM, at every step
    ``t``, the matrix ``M_t`` that attends over all inputs up to ``t``
    (see :class:`InputCellAttention`) instead of ``x_t``, so that early
    inputs reach the output without passing through every recurrent step and
    their saliency does not vanish. As in the benchmark's model, the ``r``
    hops are averaged, so ``M_t`` has ``F`` features. Since ``M`` does not
    depend on the LSTM state it is computed for all steps at once and the
    LSTM is a standard :class:`torch.nn.LSTM`. Dropout acts on the input and
    on the last hidden state; the last state goes through a linear layer to
    the outputs (logits).

    Parameters
    ----------
    input_shape : tuple of int
        ``(T, F)``.
    n_outputs : int
        Number of outputs.
    hidden : int, default=5
        Size of the LSTM state (the benchmark's).
    attention_hops : int, default=10
        Number of attention hops, the paper's ``r`` (the benchmark's).
    attention_size : int, default=50
        Hidden size of the attention, the paper's ``d_a`` (the benchmark's).
    dropout : float, default=0.1
        Dropout probability on the input and on the last hidden state.

    Notes
    -----
    The attention has no biases (the paper's ``W1``, ``W2``). Weight
    matrices are Xavier-uniform initialised and the LSTM biases start at
    zero, as in the benchmark's code. ``gradcam_layer`` is None:
    ``explainer="auto"`` trains through input gradients.

    Examples
    --------
    >>> import torch
    >>> model = InputCellLSTM((50, 50), 2)
    >>> model(torch.randn(3, 50, 50)).shape
    torch.Size([3, 2])
    >>> sum(p.numel() for p in model.parameters())
    4152
    """

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("time_series",)
    gradcam_layer: ClassVar[str | None] = None

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden": [Interval("int", 1, None)],
        "attention_hops": [Interval("int", 1, None)],
        "attention_size": [Interval("int", 1, None)],
        "dropout": [Interval("real", 0, 1, closed="left")],
    }

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        hidden: int = 5,
        attention_hops: int = 10,
        attention_size: int = 50,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(input_shape, n_outputs)
        self.hidden = hidden
        self.attention_hops = attention_hops
        self.attention_size = attention_size
        self.dropout = dropout
        n_features = input_shape[-1]
        self.input_dropout = nn.Dropout(dropout)
        self.attention = InputCellAttention(n_features, attention_hops, attention_size)
        self.lstm = nn.LSTM(n_features, hidden, batch_first=True)
        self.state_dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_outputs)
        for parameter in [*self.attention.parameters(), *self.lstm.parameters()]:
            if parameter.dim() >= 2:
                nn.init.xavier_uniform_(parameter)
            else:
                nn.init.zeros_(parameter)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Map ``(N, T, F)`` series to ``(N, n_outputs)`` outputs."""
        states, _ = self.lstm(self.attention(self.input_dropout(X)))
        return self.head(self.state_dropout(states[:, -1]))
