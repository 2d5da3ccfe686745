"""Explanation supervision changes where a model looks."""

from __future__ import annotations

import numpy as np

from xsup import ExplanationSupervisedClassifier


def decoy_images(n: int, seed: int):
    """8x8 images: a weak true signal top-left, a strong label-coded decoy bottom-right."""
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=0.5, size=(n, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 2, n)
    sign = np.where(y == 1, 1.0, -1.0)[:, None, None]
    X[:, 0, 1:4, 1:4] += sign
    X[:, 0, 5:8, 5:8] = 3.0 * sign
    E = np.zeros((n, 8, 8), dtype=np.float32)
    E[:, 1:4, 1:4] = 1
    return X, y, E


def saliency_mass_inside(maps: np.ndarray, E: np.ndarray) -> float:
    return float((maps * (E > 0)).sum() / maps.sum())


def test_gradia_moves_grad_cam_onto_the_annotated_region():
    X, y, E = decoy_images(120, seed=0)
    params = dict(max_epochs=10, lr=3e-3, sigma1=5.0, train_split=None, verbose=0, random_state=0)
    baseline = ExplanationSupervisedClassifier(loss="none", **params).fit(X, y, E)
    supervised = ExplanationSupervisedClassifier(loss="gradia", **params).fit(X, y, E)
    inside_baseline = saliency_mass_inside(baseline.explain(X), E)
    inside_supervised = saliency_mass_inside(supervised.explain(X), E)
    # the annotated region is 9 of 64 pixels (14%); the baseline looks at the decoy
    assert inside_baseline < 0.3
    assert inside_supervised > inside_baseline + 0.3
    assert supervised.score(X, y) > 0.9
