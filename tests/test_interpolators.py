"""Interpolators along time: nearest, linear (exact values) and STES's learned one."""

from __future__ import annotations

import pytest
import torch

from xsup.batch import annotated_frames
from xsup.interpolators import LinearInterpolation, NearestInterpolation, STESInterpolator
from xsup.spec import InputSpec
from xsup import plugins

NAN = float("nan")
RASTERS = InputSpec("raster_sequences", (5, 1, 2, 2), 2)


def frame(value: float) -> list[list[float]]:
    """A 2x2 frame filled with ``value``."""
    return [[value, value], [value, value]]


def rasters(*samples: list[float]) -> torch.Tensor:
    """``(N, T, 2, 2)`` annotations from per-step constants (NaN = missing frame)."""
    return torch.tensor([[frame(v) for v in steps] for steps in samples])


def fill(interpolator, E: torch.Tensor, spec: InputSpec = RASTERS) -> torch.Tensor:
    interpolator.setup(spec)
    filled, reconstruction = interpolator(E, ~annotated_frames(E, spec))
    assert reconstruction is None
    return filled


def assert_steps(filled: torch.Tensor, expected: list[list[float]]) -> None:
    """Each frame is constant, with the expected value per step."""
    torch.testing.assert_close(filled[..., 0, 0], torch.tensor(expected), equal_nan=True)
    torch.testing.assert_close(filled, filled[..., :1, :1].expand_as(filled), equal_nan=True)


# ---------------------------------------------------------------- nearest
def test_nearest_copies_the_closest_annotated_frame():
    E = rasters([NAN, 0.2, NAN, NAN, 0.8], [0.4, NAN, NAN, 0.6, NAN])
    # sample 0: step 0 before the first copies it; step 2 is nearer step 1; step 3 nearer 4
    # sample 1: steps 1 and 2 lie 1 and 2 steps from 0 and 2 and 1 steps from 3
    assert_steps(fill(NearestInterpolation(), E), [[0.2, 0.2, 0.2, 0.8, 0.8],
                                                   [0.4, 0.4, 0.6, 0.6, 0.6]])


def test_nearest_breaks_ties_towards_the_earlier_frame():
    E = rasters([0.2, NAN, 0.8, NAN, NAN])
    assert_steps(fill(NearestInterpolation(), E), [[0.2, 0.2, 0.8, 0.8, 0.8]])


def test_nearest_copies_cells_as_they_are():
    E = torch.full((1, 3, 2, 2), NAN)
    E[0, 0] = torch.tensor([[1.0, -1.0], [0.0, NAN]])
    filled = fill(NearestInterpolation(), E)
    for step in (1, 2):
        torch.testing.assert_close(filled[0, step], E[0, 0], equal_nan=True)


# ---------------------------------------------------------------- linear
def test_linear_interpolates_between_and_holds_beyond_the_annotated_frames():
    E = rasters([NAN, 0.2, NAN, NAN, 0.8], [1.0, NAN, 0.2, NAN, NAN])
    assert_steps(fill(LinearInterpolation(), E), [[0.2, 0.2, 0.4, 0.6, 0.8],
                                                  [1.0, 0.6, 0.2, 0.2, 0.2]])


def test_linear_zero_frames_are_missing_by_default():
    # the all-zero frames count as missing: steps 1 to 4 hold the only annotated frame
    E = rasters([1.0, NAN, 0.0, NAN, 0.0])
    assert_steps(fill(LinearInterpolation(), E), [[1.0, 1.0, 1.0, 1.0, 1.0]])


def test_linear_keeps_unknown_cells_unknown_and_interpolates_negative_ones():
    E = torch.full((1, 3, 2, 2), NAN)
    E[0, 0] = torch.tensor([[1.0, -1.0], [0.0, NAN]])
    E[0, 2] = torch.tensor([[0.0, -1.0], [1.0, 1.0]])
    filled = fill(LinearInterpolation(), E)
    torch.testing.assert_close(filled[0, 1], torch.tensor([[0.5, -1.0], [0.5, NAN]]),
                               equal_nan=True)


def test_time_series_frames_are_interpolated_feature_by_feature():
    spec = InputSpec("time_series", (4, 2), 2)
    E = torch.tensor([[[0.0, 1.0], [NAN, NAN], [NAN, NAN], [0.6, 0.4]]])
    filled = fill(LinearInterpolation(), E, spec)
    torch.testing.assert_close(filled[0, 1:3], torch.tensor([[0.2, 0.8], [0.4, 0.6]]))


# ---------------------------------------------------------------- shared behaviour
@pytest.mark.parametrize("cls", [NearestInterpolation, LinearInterpolation])
def test_zero_is_missing_option(cls):
    E = rasters([1.0, NAN, 0.0, NAN, 1.0])
    # default: the zero frame is filled like the NaN ones
    assert_steps(fill(cls(), E), [[1.0, 1.0, 1.0, 1.0, 1.0]])
    # zero_is_missing=False: the zero frame is an annotation, kept, and used as a neighbour
    kept = fill(cls(zero_is_missing=False), E)
    nearest, linear = [1.0, 1.0, 0.0, 0.0, 1.0], [1.0, 0.5, 0.0, 0.5, 1.0]
    assert_steps(kept, [nearest if cls is NearestInterpolation else linear])


@pytest.mark.parametrize("cls", [NearestInterpolation, LinearInterpolation, STESInterpolator])
def test_samples_without_an_annotated_frame_stay_missing(cls):
    E = rasters([0.2, NAN, 0.4, NAN, NAN], [NAN] * 5, [0.0, NAN, 0.0, 0.0, NAN])
    torch.manual_seed(0)
    interpolator = cls()
    interpolator.setup(RASTERS)
    filled, _ = interpolator(E, ~annotated_frames(E, RASTERS))
    assert bool(torch.isnan(filled[1:]).all())
    assert bool(torch.isfinite(filled[0]).all())


@pytest.mark.parametrize("cls", [NearestInterpolation, LinearInterpolation, STESInterpolator])
def test_only_flagged_frames_change(cls):
    E = rasters([0.2, NAN, 0.4, NAN, NAN])
    missing = torch.tensor([[False, True, False, False, True]])  # step 3 not flagged
    interpolator = cls()
    interpolator.setup(RASTERS)
    filled, _ = interpolator(E, missing)
    assert bool(torch.isnan(filled[0, 3]).all())
    assert bool(torch.isfinite(filled[0, [1, 4]]).all())
    torch.testing.assert_close(filled[0, [0, 2]], E[0, [0, 2]])


@pytest.mark.parametrize("cls", [NearestInterpolation, LinearInterpolation, STESInterpolator])
def test_refuses_inputs_without_time_and_bad_options(cls):
    for kind, shape in (("images", (1, 4, 4)), ("tabular", (4,))):
        with pytest.raises(ValueError, match="time"):
            cls().setup(InputSpec(kind, shape, 2))
    with pytest.raises(ValueError, match="zero_is_missing"):
        plugins.resolve("interpolators", cls, {"zero_is_missing": 1}, spec=RASTERS)


# ---------------------------------------------------------------- STES's learned interpolator
def toy_sequences(n_samples: int = 8, size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """A box moving one cell per step; every other sample misses its middle frames."""
    E = torch.zeros(n_samples, 4, size, size)
    for n in range(n_samples):
        for t in range(4):
            top = (n + t) % (size - 3)
            E[n, t, top : top + 3, 2:5] = 1.0
    E[::2, 1:3] = NAN
    spec = InputSpec("raster_sequences", (4, 1, size, size), 2)
    return E, ~annotated_frames(E, spec)


@pytest.mark.parametrize(
    ("kind", "sample_shape"),
    [("raster_sequences", (4, 1, 8, 8)), ("raster_sequences", (4, 1, 16, 16)),
     ("raster_sequences", (4, 1, 64, 64)), ("raster_sequences", (4, 1, 15, 9)),
     ("raster_sequences", (4, 1, 3, 3)), ("time_series", (4, 6))],
)
def test_stes_interpolator_fills_any_frame_size(kind, sample_shape):
    torch.manual_seed(0)
    spec = InputSpec(kind, sample_shape, 2)
    interpolator = STESInterpolator(hidden=4)
    interpolator.setup(spec)
    E = (torch.rand(3, *spec.annotation_shape) > 0.5).float()
    E[0, 1:3] = NAN
    missing = ~annotated_frames(E, spec)
    filled, reconstruction = interpolator(E, missing)
    assert filled.shape == E.shape
    assert bool(torch.isfinite(filled).all())
    assert bool(((filled >= -1) & (filled <= 1)).all())
    torch.testing.assert_close(filled[~missing], E[~missing])
    assert reconstruction.dim() == 0 and bool(torch.isfinite(reconstruction))


def test_stes_reconstruction_is_the_l1_of_annotated_frames():
    torch.manual_seed(0)
    E, missing = toy_sequences(4)
    E[1, 0, 0, 0] = NAN  # an unknown cell of an annotated frame is skipped
    interpolator = STESInterpolator(hidden=4)
    interpolator.setup(InputSpec("raster_sequences", (4, 1, 8, 8), 2))
    _, reconstruction = interpolator(E, missing)
    inputs = torch.nan_to_num(E, nan=0.0)
    estimate = interpolator._decode(inputs)
    known = torch.isfinite(E)
    per_frame = (torch.where(known, estimate - inputs, 0.0).abs().sum(dim=(2, 3))
                 / known.sum(dim=(2, 3)).clamp(min=1))
    expected = (per_frame * ~missing).sum(dim=1).mean()  # every sample has an annotated frame
    torch.testing.assert_close(reconstruction, expected)


def test_stes_interpolator_learns_to_reconstruct():
    torch.manual_seed(0)
    E, missing = toy_sequences()
    interpolator = STESInterpolator(hidden=8)
    interpolator.setup(InputSpec("raster_sequences", (4, 1, 8, 8), 2))
    optimizer = torch.optim.Adam(interpolator.parameters(), lr=3e-2)
    losses = []
    for _ in range(60):
        _, reconstruction = interpolator(E, missing)
        optimizer.zero_grad()
        reconstruction.backward()
        optimizer.step()
        losses.append(reconstruction.item())
    # decoding every frame as empty would cost the boxes' share of each annotated frame
    empty_frames = (torch.nan_to_num(E).mean(dim=(2, 3)) * ~missing).sum(dim=1).mean().item()
    assert losses[-1] < 0.5 * empty_frames < 0.5 * losses[0], (empty_frames, losses)


def test_stes_filled_frames_are_detached_unless_asked():
    E, missing = toy_sequences(4)
    spec = InputSpec("raster_sequences", (4, 1, 8, 8), 2)
    for detach in (True, False):
        torch.manual_seed(0)
        interpolator = STESInterpolator(hidden=4, detach=detach)
        interpolator.setup(spec)
        filled, _ = interpolator(E, missing)
        assert filled.requires_grad is not detach


def test_stes_frame_dropout_hides_frames_only_in_training():
    E, missing = toy_sequences(4)
    torch.manual_seed(0)
    interpolator = STESInterpolator(hidden=4, frame_dropout=0.5)
    interpolator.setup(InputSpec("raster_sequences", (4, 1, 8, 8), 2))
    interpolator.eval()
    torch.testing.assert_close(interpolator(E, missing)[1], interpolator(E, missing)[1])
    interpolator.train()
    values = {round(interpolator(E, missing)[1].item(), 6) for _ in range(5)}
    assert len(values) > 1
    with pytest.raises(ValueError, match="frame_dropout"):
        plugins.resolve("interpolators", STESInterpolator, {"frame_dropout": 1.0}, spec=RASTERS)
    with pytest.raises(ValueError, match="hidden"):
        plugins.resolve("interpolators", STESInterpolator, {"hidden": 0}, spec=RASTERS)


def test_stes_reconstruction_is_zero_without_annotated_frames():
    interpolator = STESInterpolator(hidden=4)
    interpolator.setup(RASTERS)
    E = torch.full((2, 5, 2, 2), NAN)
    filled, reconstruction = interpolator(E, torch.ones(2, 5, dtype=torch.bool))
    assert reconstruction.item() == 0.0
    assert bool(torch.isnan(filled).all())
