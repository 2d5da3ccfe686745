"""Interpolators without learnable parts."""

from __future__ import annotations

import torch

from xsup.base import Interpolator


class NoInterpolation(Interpolator):
    """Leave missing frames missing: only annotated frames supervise the explanation."""

    def forward(
        self, annotation: torch.Tensor, missing: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the annotation unchanged and no reconstruction loss."""
        return annotation, None
