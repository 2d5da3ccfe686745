"""HAICS: BCE on the annotated cells of the target frame, by hand, gradients, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xsup import ExplanationSupervisedClassifier
from xsup.batch import ExplanationBatch
from xsup.losses import HaicsLoss
from xsup.spec import InputSpec

NAN = float("nan")
TABULAR = InputSpec("tabular", (4,), 2)


def make_batch(spec, annotation, saliency):
    return ExplanationBatch(model=None, X=None, y=None, output=None, target=None, spec=spec,
                            annotation=torch.as_tensor(annotation),
                            saliency=torch.as_tensor(saliency))


def haics(spec, annotation, saliency):
    return HaicsLoss()(make_batch(spec, annotation, saliency)).item()


def test_bce_by_hand_on_annotated_cells_only():
    # positive cell (target 1) and negative cell (target 0); the 0 and NaN cells add nothing
    value = haics(TABULAR, [[1.0, -1.0, 0.0, NAN]], [[0.8, 0.3, 0.99, 0.01]])
    assert value == pytest.approx((-math.log(0.8) - math.log(0.7)) / 2, rel=1e-5)


def test_not_the_reference_reduction():
    # one annotated cell in four: its BCE, not (BCE over all four cells) x 1/4
    value = haics(TABULAR, [[1.0, 0.0, 0.0, 0.0]], [[0.5, 0.9, 0.9, 0.9]])
    assert value == pytest.approx(math.log(2.0), rel=1e-5)


def test_soft_annotations_are_weights():
    value = haics(TABULAR, [[0.5, -1.0, 0.0, 0.0]], [[0.8, 0.3, 0.0, 0.0]])
    assert value == pytest.approx((0.5 * -math.log(0.8) + -math.log(0.7)) / 1.5, rel=1e-5)


def test_mean_over_samples_with_an_annotated_target_frame():
    annotation = [[1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [NAN] * 4]
    saliency = [[0.5, 0.0, 0.0, 0.0], [0.0, 0.2, 0.0, 0.0], [0.3, 0.3, 0.3, 0.3], [0.7] * 4]
    assert haics(TABULAR, annotation, saliency) == pytest.approx(
        (math.log(2.0) - math.log(0.8)) / 2, rel=1e-5)


def test_all_missing_adds_nothing_but_keeps_the_graph():
    saliency = torch.rand(2, 4, requires_grad=True)
    value = HaicsLoss()(make_batch(TABULAR, torch.full((2, 4), NAN), saliency))
    assert value.item() == 0.0 and value.requires_grad


def test_saturated_cells_stay_finite():
    saliency = torch.tensor([[1.0, 0.0, 1.0, 0.0]], requires_grad=True)
    value = HaicsLoss()(make_batch(TABULAR, [[-1.0, 1.0, 1.0, -1.0]], saliency))
    # the two wrong cells cost about -log(1e-6) each (float32 rounds the clip), the right ones ~0
    assert value.item() == pytest.approx(-(math.log(1e-6) + math.log1p(-1e-6)) / 2, rel=2e-3)
    value.backward()
    assert torch.isfinite(saliency.grad).all()


def test_raster_sequences_use_the_target_step_only():
    spec = InputSpec("raster_sequences", (2, 1, 2, 2), 2)
    annotation = torch.tensor([[[[-1.0, -1.0], [-1.0, -1.0]], [[1.0, 0.0], [0.0, NAN]]]])
    saliency = torch.tensor([[[[0.9, 0.9], [0.9, 0.9]], [[0.25, 0.5], [0.5, 0.5]]]])
    assert haics(spec, annotation, saliency) == pytest.approx(-math.log(0.25), rel=1e-5)


def test_time_series_use_the_last_step():
    spec = InputSpec("time_series", (2, 2), 2)
    annotation = torch.tensor([[[1.0, 1.0], [-1.0, 0.0]]])
    saliency = torch.tensor([[[0.0, 0.0], [0.4, 1.0]]])
    assert haics(spec, annotation, saliency) == pytest.approx(-math.log(0.6), rel=1e-5)


def test_gradcheck_float64():
    generator = torch.Generator().manual_seed(0)
    spec = InputSpec("images", (1, 3, 3), 2)
    annotation = torch.randint(-1, 2, (3, 3, 3), generator=generator).double()
    annotation[0, 0, 0], annotation[1, 1, 1], annotation[2, 2, 2] = NAN, 0.5, -0.25
    saliency = (0.05 + 0.9 * torch.rand(3, 3, 3, generator=generator, dtype=torch.float64))
    saliency.requires_grad_(True)
    loss = HaicsLoss()
    assert torch.autograd.gradcheck(lambda s: loss(make_batch(spec, annotation, s)), (saliency,))


def test_search_space_tunes_sigma1():
    assert set(HaicsLoss.search_space()) == {"sigma1"}


SHAPES = {"tabular": (6,), "time_series": (4, 3), "images": (1, 8, 8), "raster_sequences": (3, 1, 8, 8)}


@pytest.mark.parametrize("kind", list(SHAPES))
def test_trains_through_the_estimator(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, *SHAPES[kind])).astype(np.float32)
    y = np.arange(12) % 2
    spec = InputSpec(kind, SHAPES[kind], 2)
    E = rng.choice([-1.0, 0.0, 1.0], size=(12, *spec.annotation_shape)).astype(np.float32)
    net = ExplanationSupervisedClassifier(loss="haics", max_epochs=2, batch_size=6,
                                          train_split=None, verbose=0, random_state=0).fit(X, y, E)
    terms = net.history[:, "train_explanation"]
    assert all(np.isfinite(terms)) and terms[0] > 0


def test_fit_without_annotation_raises():
    X = np.zeros((4, 6), dtype=np.float32)
    with pytest.raises(ValueError, match="loss='haics' needs annotations"):
        ExplanationSupervisedClassifier(loss="haics", max_epochs=1, verbose=0).fit(X, [0, 1, 0, 1])


def test_batch_without_annotation_raises():
    batch = make_batch(TABULAR, [[1.0, 0.0, 0.0, 0.0]], [[0.5, 0.5, 0.5, 0.5]])
    batch.annotation = None
    with pytest.raises(ValueError, match="needs annotations E"):
        HaicsLoss()(batch)
