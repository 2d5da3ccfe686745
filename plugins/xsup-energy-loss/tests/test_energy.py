"""Tests of the energy pointing-game loss: xsup's public contract, then its own values."""

from __future__ import annotations

import pytest
import torch
from xsup.batch import ExplanationBatch
from xsup.spec import InputSpec
from xsup.testing import ExplanationLossContract

from xsup_energy_loss import EnergyPointingLoss

NAN = float("nan")


class TestEnergyContract(ExplanationLossContract):
    """Every check xsup asks of an explanation loss."""

    @pytest.fixture
    def plugin_class(self) -> type[EnergyPointingLoss]:
        return EnergyPointingLoss


def _batch(spec: InputSpec, saliency: torch.Tensor, annotation: torch.Tensor) -> ExplanationBatch:
    return ExplanationBatch(
        model=None, X=None, y=None, output=None, target=None, spec=spec,
        annotation=annotation, saliency=saliency,
    )


def test_value_by_hand_on_images() -> None:
    spec = InputSpec("images", (1, 2, 2), 2)
    saliency = torch.tensor([
        [[1.0, 0.5], [0.5, 0.0]],  # mass 2.0, 1.0 of it inside E > 0: share 0.5
        [[0.2, 0.2], [0.6, 0.0]],  # E has no positive cell: left out of the mean
        [[1.0, 1.0], [0.0, 1.0]],  # NaN cell left out: mass 2.0, all inside: share 1.0
    ])
    annotation = torch.tensor([
        [[1.0, 0.0], [0.0, -1.0]],
        [[0.0, -1.0], [0.0, 0.0]],
        [[1.0, NAN], [0.0, 1.0]],
    ])
    loss = EnergyPointingLoss(eps=0.0)(_batch(spec, saliency, annotation))
    torch.testing.assert_close(loss, torch.tensor(((1 - 0.5) + (1 - 1.0)) / 2))


def test_sequences_are_scored_at_the_target_step() -> None:
    spec = InputSpec("raster_sequences", (2, 1, 1, 2), 2)
    saliency = torch.tensor([[[[1.0, 0.0]], [[0.25, 0.75]]]])  # (N=1, T=2, H=1, W=2)
    annotation = torch.tensor([[[[0.0, 1.0]], [[1.0, 0.0]]]])
    loss = EnergyPointingLoss(eps=0.0)(_batch(spec, saliency, annotation))
    torch.testing.assert_close(loss, torch.tensor(0.75))  # last frame: 1 - 0.25 / 1.0


def test_gradient_moves_mass_into_the_annotation() -> None:
    spec = InputSpec("tabular", (3,), 2)
    saliency = torch.tensor([[0.5, 0.5, 0.5]], requires_grad=True)
    annotation = torch.tensor([[1.0, 0.0, 0.0]])
    EnergyPointingLoss()(_batch(spec, saliency, annotation)).backward()
    assert saliency.grad[0, 0] < 0 < saliency.grad[0, 1]


def test_batch_without_positive_annotation_gives_zero() -> None:
    spec = InputSpec("tabular", (2,), 2)
    loss = EnergyPointingLoss()(_batch(spec, torch.ones(2, 2), torch.tensor([[NAN, NAN], [0.0, -1.0]])))
    assert loss.item() == 0.0
