"""RES's imputation function h(F, C): a Gaussian (RES-G) or learned (RES-L) convolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AnnotationImputation", "check_kernel", "default_kernel_sigma", "gaussian_kernel"]


def default_kernel_sigma(kernel_size: int) -> float:
    """OpenCV's Gaussian width for a kernel size: ``0.3 * ((k - 1) / 2 - 1) + 0.8``.

    This is the width OpenCV's ``GaussianBlur`` uses when given ``sigma=0``,
    as RES's reference code does (0.8 for a 3 x 3 kernel).

    Examples
    --------
    >>> default_kernel_sigma(3)
    0.8
    """
    return 0.3 * ((kernel_size - 1) * 0.5 - 1.0) + 0.8


def gaussian_kernel(kernel_size: int, sigma: float) -> torch.Tensor:
    """A normalised ``kernel_size x kernel_size`` Gaussian kernel (float64).

    Examples
    --------
    >>> kernel = gaussian_kernel(3, 0.8)
    >>> round(float(kernel.sum()), 6), round(float(kernel[1, 1]), 4)
    (1.0, 0.2725)
    """
    offsets = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    profile = torch.exp(-(offsets**2) / (2.0 * sigma**2))
    profile = profile / profile.sum()
    return torch.outer(profile, profile)


class AnnotationImputation(nn.Module):
    """Maps annotation maps to continuous targets in [0, 1] at the same resolution.

    The input has two channels, the positive part ``F = max(E, 0)`` and the
    negative part ``C = max(-E, 0)`` (missing cells read 0). One ``k x k``
    convolution (zero padding, so the map keeps its size) is followed by a
    ReLU and a division by each map's maximum, so that the most certain cell
    reads 1; an all-zero output stays zero. The kernel starts as a Gaussian on
    ``F`` and zero on ``C``, so that a fixed kernel blurs the positive mask
    (RES-G) and a learnable one (RES-L) starts from that blur.

    Parameters
    ----------
    kernel_size : int
        Odd kernel size ``k``.
    sigma : float
        Width of the Gaussian.
    learnable : bool
        Whether the kernel and a bias are parameters (trained jointly with
        the model) or a fixed buffer.

    Examples
    --------
    >>> blur = AnnotationImputation(3, 0.8, learnable=False)
    >>> E = torch.zeros(1, 3, 3)
    >>> E[0, 1, 1] = 1.0
    >>> blur(E)[0, 1]
    tensor([0.4578, 1.0000, 0.4578])
    """

    def __init__(self, kernel_size: int, sigma: float, learnable: bool) -> None:
        super().__init__()
        weight = torch.zeros(1, 2, kernel_size, kernel_size)
        weight[0, 0] = gaussian_kernel(kernel_size, sigma).float()
        self.padding = kernel_size // 2
        self.bias: nn.Parameter | None
        if learnable:
            self.weight = nn.Parameter(weight)
            self.bias = nn.Parameter(torch.zeros(1))
        else:
            self.register_buffer("weight", weight)
            self.bias = None

    def forward(self, annotation: torch.Tensor) -> torch.Tensor:
        """Targets ``(N, H, W)`` in [0, 1] for annotations ``(N, H, W)`` (NaN = missing)."""
        codes = torch.nan_to_num(annotation, nan=0.0).to(self.weight.dtype)
        masks = torch.stack([codes.clamp(min=0.0), (-codes).clamp(min=0.0)], dim=1)
        target = F.relu(F.conv2d(masks, self.weight, self.bias, padding=self.padding)).squeeze(1)
        peak = target.flatten(start_dim=1).amax(dim=1).reshape(-1, 1, 1)
        scaled = target / torch.where(peak > 0, peak, torch.ones_like(peak))
        return scaled.to(annotation.dtype)

    def extra_repr(self) -> str:
        size = self.weight.shape[-1]
        kind = "learnable" if isinstance(self.weight, nn.Parameter) else "fixed"
        return f"kernel_size={size}, {kind}"


def check_kernel(kernel_size: int, sigma: float | None) -> float:
    """Check that the kernel is centred (odd size); returns the Gaussian width to use.

    The types and ranges are checked from ``RESLoss.parameter_constraints``.
    """
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd positive integer; got {kernel_size!r}.")
    return default_kernel_sigma(kernel_size) if sigma is None else float(sigma)
