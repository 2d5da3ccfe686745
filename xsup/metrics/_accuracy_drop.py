"""Accuracy as the most salient cells are replaced by uninformative values (Ismail et al. 2020)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, auc

from xsup.metrics._masking import (
    check_percentages,
    check_saliency_for_input,
    chunks,
    descending_order,
    fill_values,
    replace_cells,
    rescale_saliency,
    response_function,
    saliency_share_counts,
    selected_cells,
)

__all__ = ["accuracy_drop"]

DEFAULT_PERCENTAGES = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


def _masked_counts(sorted_s: np.ndarray, percentages: np.ndarray) -> np.ndarray:
    """Cells to replace per percentage and sample: none at 0%, all at 100%, else 1 to n-1."""
    n_cells = sorted_s.shape[1]
    counts = np.clip(saliency_share_counts(sorted_s, percentages), 1, n_cells - 1)
    counts[percentages == 0] = 0
    counts[percentages == 100] = n_cells
    return counts


def accuracy_drop(
    estimator: Any,
    X: Any,
    y: Any,
    S: Any,
    *,
    replacement: Any,
    percentages: Any = DEFAULT_PERCENTAGES,
) -> dict[str, Any]:
    """Accuracy of a fitted classifier as the most salient cells are replaced.

    The masked-accuracy test of Ismail et al. (2020). Per sample, the
    saliency is rescaled (``|S|``, then min-max) and, at each percentage p,
    the fewest top cells that hold at least p% of the sample's saliency
    (at least 1 and at most all but one; none at 0%, all at 100%) are
    replaced by the values of an uninformative sample drawn from the same
    process, so that the masked inputs stay in distribution. A saliency
    map that ranks the cells the model relies on makes the accuracy fall
    early: lower ``AUC`` is better. A sample whose map is constant has no
    ranking and is masked in cell order, p% of its cells at a time.

    Parameters
    ----------
    estimator : fitted classifier or callable
        Anything with ``predict`` (an ``ExplanationSupervisedClassifier``, a
        scikit-learn classifier or ``Pipeline``), or a callable mapping
        inputs to predicted labels.
    X : array-like or torch.Tensor
        Inputs, ``(N, F)``, ``(N, T, F)``, ``(N, C, H, W)`` or
        ``(N, T, C, H, W)``, in the space the estimator takes.
    y : array-like of shape (N,)
        True labels.
    S : array-like or torch.Tensor
        Saliency maps shaped like the annotations: ``(N, F)``, ``(N, T, F)``,
        ``(N, H, W)`` or ``(N, T, H, W)``; a pixel's saliency masks all of its
        channels.
    replacement : array-like or callable
        The uninformative values: one sample shaped like ``X[0]``, one per
        sample shaped like ``X``, a scalar, or a callable without arguments
        returning one of these (called once, so that every percentage and
        sample shares the same draw, as in the paper).
    percentages : sequence of float, default=(0, 10, ..., 100)
        Saliency shares in percent, strictly increasing, at least two.

    Returns
    -------
    dict
        ``"accuracy"`` (one value per percentage, in [0, 1]),
        ``"percentages"`` and ``"AUC"``: the area under accuracy against
        ``p / 100`` (trapezoidal rule, :func:`sklearn.metrics.auc`). The
        paper reports accuracy in percent, hence AUC values 100 times ours.

    Raises
    ------
    TypeError
        ``estimator`` has no ``predict`` and is not callable.
    ValueError
        Shapes that do not match, non-finite S or replacement values, or
        invalid percentages.

    Examples
    --------
    A "model" that reads the first cell only: masking it first (the right
    saliency) drops the accuracy at once; masking it last keeps it until 100%.

    >>> X = [[2.0, 0.0, 0.0, 0.0], [-2.0, 0.0, 0.0, 0.0]]
    >>> y = [1, 0]
    >>> def predict(inputs):
    ...     return (inputs[:, 0] > 0).astype(int)
    >>> right = [[1.0, 0.0, 0.0, 0.0]] * 2
    >>> wrong = [[0.0, 1.0, 1.0, 1.0]] * 2
    >>> accuracy_drop(predict, X, y, right, replacement=-1.0, percentages=[0, 50, 100])["accuracy"]
    array([1. , 0.5, 0.5])
    >>> accuracy_drop(predict, X, y, wrong, replacement=-1.0, percentages=[0, 50, 100])["accuracy"]
    array([1. , 1. , 0.5])
    """
    predict = response_function(estimator, "predict")
    S, X = check_saliency_for_input(S, X)
    y = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(
            f"y must hold one label per sample of X ({len(X)}); got shape {y.shape}."
        )
    percentages = check_percentages(percentages, minimum=2)
    values = fill_values(replacement, X, "replacement")
    correct = np.zeros(len(percentages))
    for part in chunks(len(X)):
        s = np.asarray(S[part], dtype=np.float64)
        if not np.isfinite(s).all():
            raise ValueError("S contains NaN or infinity; saliency maps must be finite.")
        rescaled = rescale_saliency(s)
        order = descending_order(rescaled)
        counts = _masked_counts(np.take_along_axis(rescaled, order, axis=1), percentages)
        x_part, v_part = np.asarray(X[part]), np.asarray(values[part])
        for row, count in enumerate(counts):
            masked = replace_cells(x_part, selected_cells(order, count), v_part)
            correct[row] += accuracy_score(y[part], np.asarray(predict(masked)), normalize=False)
    accuracy = correct / len(X)
    return {
        "accuracy": accuracy,
        "percentages": percentages,
        "AUC": float(auc(percentages / 100, accuracy)),
    }
