"""Small tensor functions shared by the explainers: normalisation, resizing, targets."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["normalize_saliency", "resize_maps", "target_score"]

_EPS = 1e-12


def normalize_saliency(saliency: torch.Tensor) -> torch.Tensor:
    """Divide each sample's map by its maximum over all of its cells and frames.

    Keeping one maximum per sample (not per frame) preserves the relative
    importance of time steps. An all-zero map stays zero.

    Parameters
    ----------
    saliency : torch.Tensor
        Non-negative maps, ``(N, ...)``.

    Returns
    -------
    torch.Tensor
        Same shape, values in [0, 1].

    Examples
    --------
    >>> normalize_saliency(torch.tensor([[1.0, 4.0], [0.0, 0.0]]))
    tensor([[0.2500, 1.0000],
            [0.0000, 0.0000]])
    """
    peak = saliency.flatten(start_dim=1).amax(dim=1)
    peak = peak.reshape((-1,) + (1,) * (saliency.dim() - 1))
    return saliency / (peak + _EPS)


def resize_maps(maps: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Resize a batch of 1-, 2- or 3-D maps ``(N, *spatial)`` to ``(N, *size)``.

    Linear, bilinear or trilinear interpolation (``align_corners=False``), the
    usual upsampling for Grad-CAM; differentiable.
    """
    if tuple(maps.shape[1:]) == tuple(size):
        return maps
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(size)]
    return F.interpolate(maps.unsqueeze(1), size=size, mode=mode, align_corners=False).squeeze(1)


def target_score(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over the batch of each sample's output at its target column.

    Because samples do not interact in the forward pass (in evaluation mode),
    the gradient of this sum with respect to a sample's input is that sample's
    own gradient.
    """
    if output.dim() == 1:
        return output.sum()
    return output.gather(1, target.long().reshape(-1, 1)).sum()
