"""Causal pre-norm transformer encoder for multivariate time series."""

from __future__ import annotations

import contextlib
import math
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from xsup.base import Backbone
from xsup.constraints import InstanceOf, Interval
from xsup.spec import InputKind

#: Largest number of heads chosen when ``n_heads=None`` (the benchmark's 5).
DEFAULT_MAX_HEADS = 5


def sinusoidal_positional_encoding(n_steps: int, d_model: int) -> torch.Tensor:
    """Sinusoidal position codes of Vaswani et al. (2017), shape ``(n_steps, d_model)``.

    ``PE[p, 2i] = sin(p / 10000 ** (2i / d_model))`` and
    ``PE[p, 2i + 1] = cos(p / 10000 ** (2i / d_model))``: the sine and cosine of
    one pair share a frequency. An odd ``d_model`` ends with a sine.

    Examples
    --------
    >>> sinusoidal_positional_encoding(3, 4)[1]  # sin(1), cos(1), sin(0.01), cos(0.01)
    tensor([0.8415, 0.5403, 0.0100, 0.9999])
    """
    position = torch.arange(n_steps, dtype=torch.float64).unsqueeze(1)
    frequency = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    angle = position * frequency
    encoding = torch.zeros(n_steps, d_model, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angle)
    encoding[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return encoding.float()


def _default_heads(d_model: int) -> int:
    """The largest divisor of ``d_model`` that is at most ``DEFAULT_MAX_HEADS``."""
    return max(h for h in range(1, DEFAULT_MAX_HEADS + 1) if d_model % h == 0)


class Transformer(Backbone):
    """``(N, T, F) -> (N, n_outputs)``: causal transformer encoder, max over time, linear.

    Each step is a token: by default the ``F`` features themselves (``d_model
    = F``, no input projection), scaled by ``sqrt(d_model)`` and added to
    sinusoidal position codes. Pre-norm encoder layers with a causal mask
    (step ``t`` attends to steps ``<= t`` only) are followed by a final layer
    norm, a max over time and a linear layer to the outputs (logits). The
    defaults are the sizes of the time-series saliency benchmark (Ismail et
    al. 2020) for ``F = 50``: 6 layers, 5 heads, ``d_ff = 400``, dropout 0.1.

    Parameters
    ----------
    input_shape : tuple of int
        ``(T, F)``.
    n_outputs : int
        Number of outputs.
    d_model : int or None, default=None
        Token size. None uses the features as tokens (``d_model = F``); an
        int adds a learned linear projection from ``F`` to ``d_model``. Must
        be at least 2 (a layer norm over one value is constant).
    n_heads : int or None, default=None
        Attention heads; must divide ``d_model``. None picks the largest
        divisor of ``d_model`` up to 5 (5 for ``F = 50``).
    n_layers : int, default=6
        Encoder layers.
    d_ff : int, default=400
        Hidden size of each layer's feed-forward network.
    dropout : float, default=0.1
        Dropout on the position-coded input and inside every layer.
    scale_input : bool, default=True
        Multiply the tokens by ``sqrt(d_model)`` before adding the position
        codes (as the benchmark does, after Vaswani et al.'s embeddings).

    Raises
    ------
    ValueError
        ``n_heads`` does not divide ``d_model``, or ``d_model < 2``.

    Notes
    -----
    The network has no convolution (``gradcam_layer`` is None), so
    ``explainer="auto"`` trains through input gradients. When the input
    requires a gradient, attention runs on PyTorch's plain ("math") kernel:
    the fused CPU and CUDA kernels cannot be differentiated twice, which
    gradient-based explanation losses need.

    Examples
    --------
    >>> import torch
    >>> model = Transformer((50, 50), 2)
    >>> model(torch.randn(3, 50, 50)).shape
    torch.Size([3, 2])
    >>> Transformer((50, 8), 2, d_model=32, n_heads=4)(torch.randn(3, 50, 8)).shape
    torch.Size([3, 2])
    """

    input_kinds: ClassVar[tuple[InputKind, ...]] = ("time_series",)
    gradcam_layer: ClassVar[str | None] = None

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "d_model": [None, Interval("int", 2, None)],
        "n_heads": [None, Interval("int", 1, None)],
        "n_layers": [Interval("int", 1, None)],
        "d_ff": [Interval("int", 1, None)],
        "dropout": [Interval("real", 0, 1, closed="left")],
        "scale_input": [InstanceOf(bool)],
    }

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        d_model: int | None = None,
        n_heads: int | None = None,
        n_layers: int = 6,
        d_ff: int = 400,
        dropout: float = 0.1,
        scale_input: bool = True,
    ) -> None:
        super().__init__(input_shape, n_outputs)
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.d_ff = d_ff
        self.dropout = dropout
        self.scale_input = scale_input
        n_features = input_shape[-1]
        width = n_features if d_model is None else d_model
        if width < 2:
            raise ValueError(
                f"d_model must be at least 2 (a layer norm over one value is constant); got "
                f"{width}{' (the number of features)' if d_model is None else ''}: set d_model."
            )
        heads = _default_heads(width) if n_heads is None else n_heads
        if width % heads:
            raise ValueError(
                f"n_heads must divide d_model; got n_heads={heads} and d_model={width}"
                f"{' (the number of features)' if d_model is None else ''}."
            )
        self.projection: nn.Module = (
            nn.Identity() if d_model is None else nn.Linear(n_features, d_model)
        )
        self.input_dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            width, heads, d_ff, dropout, activation=nn.ReLU(), batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, n_layers, norm=nn.LayerNorm(width), enable_nested_tensor=False
        )
        self.head = nn.Linear(width, n_outputs)

    def encode(self, X: torch.Tensor) -> torch.Tensor:
        """Per-step representations, ``(N, T, d_model)``; step ``t`` sees ``X[:, :t + 1]`` only."""
        tokens = self.projection(X)
        n_steps, width = tokens.shape[1:]
        if self.scale_input:
            tokens = tokens * math.sqrt(width)
        position = sinusoidal_positional_encoding(n_steps, width).to(tokens.device, tokens.dtype)
        tokens = self.input_dropout(tokens + position)
        mask = nn.Transformer.generate_square_subsequent_mask(
            n_steps, device=tokens.device, dtype=tokens.dtype
        )
        kernel = sdpa_kernel(SDPBackend.MATH) if X.requires_grad else contextlib.nullcontext()
        with kernel:
            return self.encoder(tokens, mask=mask, is_causal=True)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Map ``(N, T, F)`` series to ``(N, n_outputs)`` outputs."""
        return self.head(self.encode(X).amax(dim=1))
