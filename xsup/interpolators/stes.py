"""STES's self-supervised interpolation encoder-decoder (Yu et al., §4.2, eq. 4.3-4.4)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from xsup.base import Interpolator
from xsup.constraints import InstanceOf, Interval
from xsup.interpolators.simple import (
    check_sequence_spec,
    frames_to_fill,
    source_frames,
)
from xsup.spec import InputSpec

__all__ = ["STESInterpolator"]

#: Stride-2 stages of the raster encoder stop once the smaller side is at most this.
_SMALLEST_SIDE = 4
#: At most this many stride-2 stages, however large the frames.
_MAX_STAGES = 4


def _halvings(height: int, width: int) -> list[tuple[int, int]]:
    """Frame sizes after each stride-2 stage, the input size first."""
    sizes = [(height, width)]
    while min(sizes[-1]) > _SMALLEST_SIDE and len(sizes) <= _MAX_STAGES:
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    return sizes


class _RasterEncoder(nn.Module):
    """g_CNN: ``(B, H, W)`` frames to ``(B, hidden)`` vectors, keeping where things are."""

    def __init__(self, sizes: list[tuple[int, int]], hidden: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for stage in range(max(len(sizes) - 1, 1)):
            stride = 2 if len(sizes) > 1 else 1
            layers += [nn.Conv2d(1 if stage == 0 else hidden, hidden, 3, stride, 1), nn.ReLU()]
        h, w = sizes[-1]
        layers += [nn.Flatten(), nn.Linear(hidden * h * w, hidden), nn.ReLU()]
        self.layers = nn.Sequential(*layers)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.layers(frames.unsqueeze(1))


class _RasterDecoder(nn.Module):
    """g_Dec: ``(B, 2 hidden)`` states back to ``(B, H, W)`` frames in [-1, 1]."""

    def __init__(self, sizes: list[tuple[int, int]], hidden: int) -> None:
        super().__init__()
        self.sizes = sizes
        h, w = sizes[-1]
        self.project = nn.Sequential(nn.Linear(2 * hidden, hidden * h * w), nn.ReLU())
        n_stages = len(sizes) - 1
        self.upsample = nn.ModuleList(
            nn.ConvTranspose2d(hidden, 1 if stage == n_stages - 1 else hidden, 3, 2, 1)
            for stage in range(n_stages)
        )
        self.output = nn.Conv2d(hidden, 1, 3, padding=1) if n_stages == 0 else None

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        h, w = self.sizes[-1]
        maps = self.project(states).reshape(len(states), -1, h, w)
        targets = list(reversed(self.sizes[:-1]))
        for stage, (layer, size) in enumerate(zip(self.upsample, targets)):
            maps = layer(maps, output_size=size)
            if stage < len(targets) - 1:
                maps = torch.relu(maps)
        if self.output is not None:
            maps = self.output(maps)
        return torch.tanh(maps).squeeze(1)


def _vector_codec(n_features: int, hidden: int) -> tuple[nn.Module, nn.Module]:
    """Encoder and decoder of ``(B, F)`` time-series frames (features have no neighbourhood)."""
    encoder = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU())
    decoder = nn.Sequential(
        nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_features), nn.Tanh()
    )
    return encoder, decoder


def _frame_l1(estimate: torch.Tensor, annotation: torch.Tensor) -> torch.Tensor:
    """``(N, T)`` mean absolute difference over each frame's known (finite) cells."""
    known = torch.isfinite(annotation)
    difference = torch.where(known, estimate - torch.nan_to_num(annotation), 0.0).abs()
    counts = known.flatten(start_dim=2).sum(dim=-1).clamp(min=1)
    return difference.flatten(start_dim=2).sum(dim=-1) / counts


class STESInterpolator(Interpolator):
    """Learned interpolation of missing annotation frames: g_Dec ∘ g_RNN ∘ g_CNN (STES eq. 4.3).

    Missing frames are set to 0 and the sequence of annotation frames is
    encoded frame by frame (g_CNN: convolutions for raster frames ``(H, W)``,
    a dense layer for time-series frames ``(F,)``), run through a
    bidirectional GRU (g_RNN) so that every step sees the whole sequence, and
    decoded back to frames (g_Dec: transposed convolutions, or dense layers)
    with a ``tanh`` output in [-1, 1]. Annotated frames keep their annotation;
    missing frames take the decoded frame. Samples without any annotated
    frame stay missing (NaN).

    The second output is the reconstruction loss (eq. 4.4) on the annotated
    frames: the mean absolute difference over a frame's known cells, summed
    over the sample's annotated frames, averaged over the samples that have
    one. The estimator weights it by ``sigma2``.

    Parameters
    ----------
    hidden : int, default=32
        Convolution channels and GRU hidden size (STES uses 32).
    zero_is_missing : bool, default=True
        Treat all-zero frames as missing, as STES does; with False only
        all-NaN frames are filled and an all-zero frame is an annotation that
        is reconstructed like the others.
    frame_dropout : float, default=0.0
        In training mode, hide each annotated frame from the encoder with this
        probability (its reconstruction still counts), so that the
        self-supervision also practises filling frames from their
        neighbours. 0 is the paper's setting: annotated frames are only
        reconstructed from themselves and their context.
    detach : bool, default=True
        Hand the filled frames to the explanation loss as constants, so that
        the interpolator learns from the reconstruction loss alone (the
        paper's "training loss of the interpolation module"). False lets the
        explanation loss train the interpolator too, as the STES reference
        code does; the filled frames can then drift towards the model's
        current saliency instead of the annotation.

    Examples
    --------
    >>> import torch
    >>> from xsup.spec import InputSpec
    >>> _ = torch.manual_seed(0)
    >>> interpolator = STESInterpolator(hidden=8)
    >>> interpolator.setup(InputSpec("raster_sequences", (3, 1, 8, 8), 2))
    >>> E = torch.zeros(2, 3, 8, 8)
    >>> E[:, :, 2:5, 2:5] = 1.0
    >>> E[0, 1] = float("nan")  # one missing frame
    >>> filled, reconstruction = interpolator(E, torch.tensor([[False, True, False], [False] * 3]))
    >>> bool(torch.isfinite(filled).all()), reconstruction.dim()
    (True, 0)
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden": [Interval("int", 1, None)],
        "zero_is_missing": [InstanceOf(bool)],
        "frame_dropout": [Interval("real", 0, 1, closed="left")],
        "detach": [InstanceOf(bool)],
    }

    def __init__(
        self,
        hidden: int = 32,
        zero_is_missing: bool = True,
        frame_dropout: float = 0.0,
        detach: bool = True,
    ) -> None:
        super().__init__()
        self.hidden = hidden
        self.zero_is_missing = zero_is_missing
        self.frame_dropout = frame_dropout
        self.detach = detach

    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """Tune the reconstruction weight ``sigma2`` and the frame dropout."""
        from optuna.distributions import FloatDistribution

        return {
            "sigma2": FloatDistribution(1e-2, 1e2, log=True),
            "frame_dropout": FloatDistribution(0.0, 0.5),
        }

    def setup(self, spec: InputSpec) -> None:
        """Build g_CNN, g_RNN and g_Dec for the frame shape of ``spec``."""
        check_sequence_spec(spec, "stes")
        hidden = int(self.hidden)
        frame_shape = spec.annotation_shape[1:]
        if spec.kind == "raster_sequences":
            sizes = _halvings(*frame_shape)
            self.encoder_: nn.Module = _RasterEncoder(sizes, hidden)
            self.decoder_: nn.Module = _RasterDecoder(sizes, hidden)
        else:
            self.encoder_, self.decoder_ = _vector_codec(math.prod(frame_shape), hidden)
        self.rnn_ = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)

    def _decode(self, inputs: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``(N, T, *frame)`` annotation frames from zero-filled ones."""
        n_samples, n_steps = inputs.shape[:2]
        frames = inputs.reshape(n_samples * n_steps, *inputs.shape[2:])
        codes = self.encoder_(frames).reshape(n_samples, n_steps, -1)
        states, _ = self.rnn_(codes)
        decoded = self.decoder_(states.reshape(n_samples * n_steps, -1))
        return decoded.reshape(inputs.shape)

    def forward(
        self, annotation: torch.Tensor, missing: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fill the missing frames and return the reconstruction loss of the annotated ones.

        Parameters
        ----------
        annotation : torch.Tensor
            ``(N, T, H, W)`` or ``(N, T, F)``; NaN marks unknown cells.
        missing : torch.Tensor
            Boolean ``(N, T)``: frames flagged as missing.

        Returns
        -------
        filled : torch.Tensor
            Same shape as ``annotation``.
        reconstruction : torch.Tensor
            Scalar reconstruction loss (eq. 4.4) on the annotated frames.
        """
        if not hasattr(self, "rnn_"):
            raise RuntimeError("STESInterpolator is not set up: call setup(spec) first.")
        fill = frames_to_fill(annotation, missing, self.zero_is_missing)
        source = source_frames(annotation, fill)
        shown = source
        if self.training and self.frame_dropout > 0:
            kept = torch.rand(source.shape, device=source.device) >= self.frame_dropout
            shown = source & kept
        frame_axes = (1,) * (annotation.dim() - 2)
        inputs = torch.where(shown.reshape(*shown.shape, *frame_axes), annotation, 0.0)
        dtype = next(self.parameters()).dtype
        estimate = self._decode(torch.nan_to_num(inputs, nan=0.0).to(dtype)).to(annotation.dtype)

        per_frame = _frame_l1(estimate, annotation) * source
        has_source = source.any(dim=1)
        if bool(has_source.any()):
            reconstruction = per_frame.sum(dim=1)[has_source].mean()
        else:
            reconstruction = estimate.sum() * 0.0
        fillable = (fill & has_source[:, None]).reshape(*fill.shape, *frame_axes)
        unfillable = (fill & ~has_source[:, None]).reshape(*fill.shape, *frame_axes)
        filled = torch.where(fillable, estimate.detach() if self.detach else estimate, annotation)
        filled = torch.where(unfillable, torch.nan, filled)
        return filled, reconstruction
