"""Interpolators without learnable parts: none, nearest and linear (along time)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import torch

from xsup.base import Interpolator
from xsup.constraints import InstanceOf
from xsup.spec import InputSpec

__all__ = [
    "LinearInterpolation",
    "NearestInterpolation",
    "NoInterpolation",
    "check_sequence_spec",
    "frames_to_fill",
    "source_frames",
]


def check_sequence_spec(spec: InputSpec, name: str) -> None:
    """Raise ``ValueError`` unless ``spec`` describes time series or raster sequences."""
    if not spec.is_sequence:
        raise ValueError(
            f"interpolator={name!r} fills missing frames along the time axis, so it needs time "
            f"series (N, T, F) or raster sequences (N, T, C, H, W); X is "
            f"{spec.kind.replace('_', ' ')} with samples of shape {spec.sample_shape}."
        )


def _all_nan_frames(annotation: torch.Tensor) -> torch.Tensor:
    """Boolean ``(N, T)``: frames whose every cell is NaN."""
    return torch.isnan(annotation).flatten(start_dim=2).all(dim=-1)


def frames_to_fill(
    annotation: torch.Tensor, missing: torch.Tensor, zero_is_missing: bool
) -> torch.Tensor:
    """The frames an interpolator replaces, boolean ``(N, T)``.

    With ``zero_is_missing`` every frame flagged in ``missing`` is filled (the
    estimator flags all-NaN and all-zero frames, as STES does); otherwise only
    the flagged frames that are entirely NaN, so that an all-zero frame stays
    an annotation saying "nothing here".
    """
    missing = missing.to(torch.bool)
    return missing if zero_is_missing else missing & _all_nan_frames(annotation)


def source_frames(annotation: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Frames an interpolator may learn or copy from: not to be filled, not all NaN."""
    return ~fill & ~_all_nan_frames(annotation)


def _neighbours(source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the closest source frame at or before, and at or after, each step.

    Returns ``(previous, following)``, both ``(N, T)`` long tensors; ``-1`` (or
    ``T``) where no source frame lies on that side.
    """
    n_steps = source.shape[1]
    steps = torch.arange(n_steps, device=source.device).expand_as(source)
    previous = torch.where(source, steps, torch.full_like(steps, -1)).cummax(dim=1).values
    following = torch.where(source, steps, torch.full_like(steps, n_steps))
    following = following.flip(1).cummin(dim=1).values.flip(1)
    return previous, following


def _take_frames(annotation: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``annotation[n, index[n, t]]`` for every ``(n, t)``; ``index`` is clamped into range."""
    index = index.clamp(0, annotation.shape[1] - 1)
    index = index.reshape(*index.shape, *(1,) * (annotation.dim() - 2)).expand_as(annotation)
    return annotation.gather(1, index)


class NoInterpolation(Interpolator):
    """Leave missing frames missing: only annotated frames supervise the explanation."""

    def forward(
        self, annotation: torch.Tensor, missing: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the annotation unchanged and no reconstruction loss."""
        return annotation, None


class _TemporalInterpolation(Interpolator):
    """Shared setup of the fixed interpolators along time."""

    _name = ""

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "zero_is_missing": [InstanceOf(bool)],
    }

    def __init__(self, zero_is_missing: bool = True) -> None:
        super().__init__()
        self.zero_is_missing = zero_is_missing

    def setup(self, spec: InputSpec) -> None:
        """Check the option and that the data are sequences."""
        check_sequence_spec(spec, self._name)

    @abstractmethod
    def _blend(
        self, annotation: torch.Tensor, previous: torch.Tensor, following: torch.Tensor
    ) -> torch.Tensor:
        """Values of every frame from its previous and following source frames."""

    def forward(
        self, annotation: torch.Tensor, missing: torch.Tensor
    ) -> tuple[torch.Tensor, None]:
        """Fill the missing frames from the annotated ones; no reconstruction loss.

        Parameters
        ----------
        annotation : torch.Tensor
            ``(N, T, ...)``; NaN marks unknown cells.
        missing : torch.Tensor
            Boolean ``(N, T)``: frames flagged as missing.

        Returns
        -------
        filled : torch.Tensor
            Same shape; frames of samples without any annotated frame stay NaN.
        reconstruction : None
        """
        fill = frames_to_fill(annotation, missing, self.zero_is_missing)
        source = source_frames(annotation, fill)
        previous, following = _neighbours(source)
        blended = self._blend(annotation, previous, following)
        reachable = (previous >= 0) | (following < annotation.shape[1])
        blended = torch.where(_expand(reachable, annotation), blended, torch.nan)
        return torch.where(_expand(fill, annotation), blended, annotation), None


def _expand(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Broadcast an ``(N, T)`` mask over the cells of each frame of ``like``."""
    return mask.reshape(*mask.shape, *(1,) * (like.dim() - 2))


class NearestInterpolation(_TemporalInterpolation):
    """Copy the closest annotated frame in time into each missing frame.

    A missing frame takes the annotated frame of the same sample that is
    nearest in time; at equal distance the earlier one (as SciPy's
    ``interp1d(kind="nearest")``). Frames before the first or after the last
    annotated frame copy that frame. Samples without any annotated frame stay
    missing (NaN).

    Parameters
    ----------
    zero_is_missing : bool, default=True
        Treat all-zero frames as missing, as STES does; with False only
        all-NaN frames are filled and an all-zero frame is an annotation
        (nothing matters there) that its neighbours may copy.

    Examples
    --------
    >>> import torch
    >>> nan = float("nan")
    >>> E = torch.tensor([[[1.0, 0.0], [nan, nan], [nan, nan], [0.0, 1.0]]])  # (N=1, T=4, F=2)
    >>> missing = torch.tensor([[False, True, True, False]])
    >>> NearestInterpolation()(E, missing)[0]
    tensor([[[1., 0.],
             [1., 0.],
             [0., 1.],
             [0., 1.]]])
    """

    _name = "nearest"

    def _blend(
        self, annotation: torch.Tensor, previous: torch.Tensor, following: torch.Tensor
    ) -> torch.Tensor:
        steps = torch.arange(annotation.shape[1], device=annotation.device).expand_as(previous)
        use_previous = (previous >= 0) & (
            (following >= annotation.shape[1]) | (steps - previous <= following - steps)
        )
        return _take_frames(annotation, torch.where(use_previous, previous, following))


class LinearInterpolation(_TemporalInterpolation):
    """Interpolate each cell linearly in time between the annotated frames around it.

    A missing frame at step ``t`` between annotated frames at ``p < t < q``
    becomes ``(1 - w) E[p] + w E[q]`` with ``w = (t - p) / (q - p)``; frames
    before the first or after the last annotated frame copy that frame (as
    ``numpy.interp``). A cell unknown (NaN) in either neighbour stays unknown;
    samples without any annotated frame stay missing (NaN).

    Parameters
    ----------
    zero_is_missing : bool, default=True
        Treat all-zero frames as missing, as STES does; with False only
        all-NaN frames are filled and an all-zero frame is an annotation
        (nothing matters there) that its neighbours are interpolated with.

    Examples
    --------
    >>> import torch
    >>> nan = float("nan")
    >>> E = torch.tensor([[[1.0, 0.0], [nan, nan], [nan, nan], [0.0, 1.0]]])  # (N=1, T=4, F=2)
    >>> missing = torch.tensor([[False, True, True, False]])
    >>> LinearInterpolation()(E, missing)[0]
    tensor([[[1.0000, 0.0000],
             [0.6667, 0.3333],
             [0.3333, 0.6667],
             [0.0000, 1.0000]]])
    """

    _name = "linear"

    def _blend(
        self, annotation: torch.Tensor, previous: torch.Tensor, following: torch.Tensor
    ) -> torch.Tensor:
        n_steps = annotation.shape[1]
        has_previous, has_following = previous >= 0, following < n_steps
        steps = torch.arange(n_steps, device=annotation.device).expand_as(previous)
        span = (following - previous).clamp(min=1)
        weight = ((steps - previous) / span).to(annotation.dtype)
        weight = torch.where(has_previous & has_following, weight, (~has_previous).to(weight.dtype))
        weight = _expand(weight, annotation)
        before, after = _take_frames(annotation, previous), _take_frames(annotation, following)
        # Where only one side exists its weight is exactly 1: take it as is, so that a NaN
        # on the other (absent) side cannot leak in through 0 * NaN.
        blended = (1 - weight) * before + weight * after
        blended = torch.where(weight == 0, before, blended)
        return torch.where(weight == 1, after, blended)
