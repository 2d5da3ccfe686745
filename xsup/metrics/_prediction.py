"""Prediction metrics that scikit-learn does not name: the true skill statistic."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import confusion_matrix
from sklearn.utils.multiclass import type_of_target, unique_labels

__all__ = ["true_skill_statistic"]


def _labels(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # torch.Tensor
        values = values.detach().cpu().numpy()
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional class labels; got shape {values.shape}.")
    kind = type_of_target(values, input_name=name)
    if kind not in ("binary", "unknown") or (kind == "unknown" and len(values)):
        raise ValueError(
            f"true_skill_statistic needs binary class labels; {name} looks {kind} "
            "(pass predicted labels, not probabilities, for y_pred)."
        )
    return values


def true_skill_statistic(y_true: Any, y_pred: Any, *, pos_label: Any = 1) -> float:
    """True skill statistic (Hanssen-Kuipers discriminant): TPR - FPR.

    Insensitive to class imbalance, it is the usual score of solar flare
    forecasts: 1 is perfect, 0 no skill, -1 always wrong. Computed from
    scikit-learn's ``confusion_matrix``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True binary labels (numpy, list or torch tensor).
    y_pred : array-like of shape (n_samples,)
        Predicted binary labels.
    pos_label : int, str or bool, default=1
        The label of the positive class (the event).

    Returns
    -------
    float
        ``TP / (TP + FN) - FP / (FP + TN)``. A rate whose denominator is zero
        (no positive or no negative sample) counts as 0, with an
        ``UndefinedMetricWarning``.

    Raises
    ------
    ValueError
        More than two labels, non-label predictions (e.g. probabilities),
        mismatched lengths, or a ``pos_label`` that is not one of two labels.

    Examples
    --------
    >>> true_skill_statistic([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0])  # 1/2 - 1/4
    0.25
    """
    y_true = _labels(y_true, "y_true")
    y_pred = _labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred must have the same length; got {len(y_true)} and {len(y_pred)}."
        )
    if len(y_true) == 0:
        raise ValueError("y_true and y_pred are empty; true_skill_statistic needs samples.")
    labels = unique_labels(y_true, y_pred)
    if len(labels) > 2:
        raise ValueError(
            "true_skill_statistic is defined for binary classification; "
            f"got labels {labels.tolist()}."
        )
    if len(labels) == 2 and pos_label not in labels.tolist():
        raise ValueError(f"pos_label={pos_label!r} is not one of the labels {labels.tolist()}.")
    tn, fp, fn, tp = confusion_matrix(
        y_true == pos_label, y_pred == pos_label, labels=[False, True]
    ).ravel()
    return _rate(tp, fn, "true positive rate (no positive sample)") - _rate(
        fp, tn, "false positive rate (no negative sample)"
    )


def _rate(hits: int, misses: int, what: str) -> float:
    total = hits + misses
    if total == 0:
        warnings.warn(
            f"The {what} is undefined; it counts as 0.", UndefinedMetricWarning, stacklevel=3
        )
        return 0.0
    return float(hits / total)
