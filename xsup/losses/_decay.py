"""STES's adaptive time decay: an MLP reads a sample's saliency peaks and sets its decay rate."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = ["DECAY_SHAPES", "AdaptiveDecay", "decay_weights"]

DecayShape = Literal["exponential", "linear", "quadratic"]
#: The decay functions phi that :func:`decay_weights` knows.
DECAY_SHAPES: tuple[str, ...] = ("exponential", "linear", "quadratic")


def decay_weights(coefficient: torch.Tensor, n_steps: int, shape: DecayShape) -> torch.Tensor:
    """Weights ``theta[n, t]`` of each time step for decay rates ``coefficient[n]``.

    With ``c`` a sample's non-negative decay rate, ``d = T - 1 - t`` the
    distance (in steps) from the target (last) step and ``u = d / (T - 1)``
    the same distance as a fraction of the window:

    - ``"exponential"``: ``exp(-c d)``, a rate per step (the STES reference code),
    - ``"linear"``: ``max(1 - c u, 0)``,
    - ``"quadratic"``: ``max(1 - c u^2, 0)``,

    so that with ``c = 1`` the linear and quadratic ramps reach 0 exactly at
    the first step of the window, whatever its length. The target step always
    weighs 1, and earlier steps never weigh more.

    Parameters
    ----------
    coefficient : torch.Tensor
        ``(N,)`` non-negative decay rates.
    n_steps : int
        Number of time steps T.
    shape : {"exponential", "linear", "quadratic"}
        The decay function phi.

    Returns
    -------
    torch.Tensor
        ``(N, T)`` weights in [0, 1].

    Examples
    --------
    >>> decay_weights(torch.tensor([1.0]), 3, "linear")
    tensor([[0.0000, 0.5000, 1.0000]])
    >>> decay_weights(torch.tensor([0.5]), 3, "quadratic")
    tensor([[0.5000, 0.8750, 1.0000]])
    """
    distance = torch.arange(n_steps - 1, -1, -1, device=coefficient.device, dtype=coefficient.dtype)
    rate = coefficient.reshape(-1, 1)
    if shape == "exponential":
        return torch.exp(-rate * distance)
    fraction = distance / max(n_steps - 1, 1)
    if shape == "linear":
        return (1 - rate * fraction).clamp(min=0.0)
    if shape == "quadratic":
        return (1 - rate * fraction**2).clamp(min=0.0)
    raise ValueError(f"decay must be one of {', '.join(DECAY_SHAPES)}; got {shape!r}.")


class AdaptiveDecay(nn.Module):
    """``theta = phi(h_d(max-pooled saliency per step), t)`` with a bounded decay rate.

    ``h_d`` is an MLP ``T -> hidden -> hidden -> 1`` with sigmoid activations
    (as in the STES reference code); its output ``z`` becomes the decay rate
    ``c = max_decay * sigmoid(z)``, so that ``c`` stays in ``[0, max_decay]``:
    non-negative (weights never grow into the past) and bounded (the rate
    cannot run off to infinity and switch every earlier step off).

    Parameters
    ----------
    n_steps : int
        Number of time steps T (the MLP's input size).
    shape : {"exponential", "linear", "quadratic"}
        The decay function phi.
    max_decay : float
        Upper bound of the decay rate.
    hidden : int
        Width of the MLP's two hidden layers.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> decay = AdaptiveDecay(3, "exponential", max_decay=1.0, hidden=4)
    >>> decay(torch.tensor([[1.0, 0.5, 0.2], [0.1, 0.1, 1.0]])).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_steps: int, shape: DecayShape, max_decay: float, hidden: int) -> None:
        super().__init__()
        self.n_steps = n_steps
        self.shape = shape
        self.max_decay = max_decay
        self.mlp = nn.Sequential(
            nn.Linear(n_steps, hidden), nn.Sigmoid(),
            nn.Linear(hidden, hidden), nn.Sigmoid(),
            nn.Linear(hidden, 1),
        )

    def coefficient(self, peaks: torch.Tensor) -> torch.Tensor:
        """Decay rate ``(N,)`` in ``[0, max_decay]`` of each sample from its ``(N, T)`` peaks."""
        dtype = self.mlp[0].weight.dtype
        return self.max_decay * torch.sigmoid(self.mlp(peaks.to(dtype))).squeeze(-1)

    def forward(self, peaks: torch.Tensor) -> torch.Tensor:
        """Weights ``(N, T)`` of each step from each sample's per-step saliency maximum."""
        weights = decay_weights(self.coefficient(peaks), self.n_steps, self.shape)
        return weights.to(peaks.dtype)
