"""Faithfulness of saliency maps: ERASER's comprehensiveness and sufficiency (AOPC)."""

from __future__ import annotations

from typing import Any

import numpy as np

from xsup.metrics._masking import (
    cell_share_counts,
    check_percentages,
    check_saliency_for_input,
    chunks,
    descending_order,
    fill_values,
    replace_cells,
    response_function,
    selected_cells,
)

__all__ = ["aopc_comprehensiveness", "aopc_sufficiency"]

#: ERASER's bins: the top 1, 5, 10, 20 and 50% of the cells.
DEFAULT_PERCENTAGES = (1, 5, 10, 20, 50)


def _probabilities(predict_proba: Any, X: np.ndarray) -> np.ndarray:
    proba = np.asarray(predict_proba(X), dtype=np.float64)
    if proba.ndim != 2 or len(proba) != len(X):
        raise ValueError(
            f"predict_proba must return one row of class probabilities per sample "
            f"({len(X)}, n_classes); got shape {proba.shape}."
        )
    return proba


def _aopc(
    estimator: Any, X: Any, S: Any, percentages: Any, baseline: Any, keep_top: bool
) -> dict[str, Any]:
    predict_proba = response_function(estimator, "predict_proba")
    S, X = check_saliency_for_input(S, X)
    percentages = check_percentages(percentages)
    values = fill_values(baseline, X, "baseline")
    n_cells = int(np.prod(S.shape[1:]))
    counts = cell_share_counts(n_cells, percentages)
    drop = np.zeros(len(percentages))
    for part in chunks(len(X)):
        s = np.asarray(S[part], dtype=np.float64).reshape(-1, n_cells)
        if not np.isfinite(s).all():
            raise ValueError("S contains NaN or infinity; saliency maps must be finite.")
        order = descending_order(s)
        x_part, v_part = np.asarray(X[part]), np.asarray(values[part])
        original = _probabilities(predict_proba, x_part)
        predicted = original.argmax(axis=1)[:, None]
        reference = np.take_along_axis(original, predicted, axis=1)[:, 0]
        for row, count in enumerate(counts):
            top = selected_cells(order, np.full(len(s), count))
            masked = replace_cells(x_part, ~top if keep_top else top, v_part)
            changed = np.take_along_axis(_probabilities(predict_proba, masked), predicted, axis=1)
            drop[row] += np.sum(reference - changed[:, 0])
    drop /= len(X)
    return {"AOPC": float(drop.mean()), "drop": drop, "percentages": percentages}


_PARAMETERS = """
    Parameters
    ----------
    estimator : fitted classifier or callable
        Anything with ``predict_proba`` (an ``ExplanationSupervisedClassifier``,
        a scikit-learn classifier or ``Pipeline``), or a callable mapping
        inputs to class probabilities ``(N, n_classes)``.
    X : array-like or torch.Tensor
        Inputs: ``(N, F)``, ``(N, T, F)``, ``(N, C, H, W)`` or ``(N, T, C, H, W)``.
    S : array-like or torch.Tensor
        Saliency maps shaped like the annotations (``(N, F)``, ``(N, T, F)``,
        ``(N, H, W)``, ``(N, T, H, W)``); higher means more important, and a
        pixel's cell covers all of its channels. Ties keep cell order.
    percentages : sequence of float, default=(1, 5, 10, 20, 50)
        The bins: shares of the cells, in percent (ERASER's bins by default);
        the top ``ceil(p% of the cells)`` are taken.
    baseline : float, array-like or callable, default=0.0
        The value that replaces a removed cell: a scalar, one sample shaped
        like ``X[0]``, an array broadcastable to X (e.g. per-channel means
        ``(C, 1, 1)``), one value per sample, or a callable without
        arguments returning one of these.

    Returns
    -------
    dict
        ``"AOPC"``: the mean of ``"drop"`` over the bins; ``"drop"``: per bin,
        the mean over samples of the fall in the probability of the class
        predicted for the intact input; ``"percentages"``.

    Raises
    ------
    TypeError
        ``estimator`` has no ``predict_proba`` and is not callable.
    ValueError
        Shapes that do not match, non-finite S or baseline, invalid percentages.
"""


def aopc_comprehensiveness(
    estimator: Any,
    X: Any,
    S: Any,
    *,
    percentages: Any = DEFAULT_PERCENTAGES,
    baseline: Any = 0.0,
) -> dict[str, Any]:
    """Comprehensiveness (ERASER, DeYoung et al. 2020): confidence lost without the top cells.

    For each bin k, the top k% of each sample's cells by saliency are
    replaced by ``baseline``; the score is the predicted class's probability
    on the intact input minus its probability on the masked one, averaged
    over samples and then over the bins (the area over the perturbation
    curve, AOPC). Higher is better: a faithful map names the cells without
    which the model loses its confidence.
    {parameters}
    Examples
    --------
    A model whose confidence is the share of positive cells among the first two:

    >>> def predict_proba(inputs):
    ...     p = (inputs[:, :2] > 0).mean(axis=1)
    ...     return np.stack([1 - p, p], axis=1)
    >>> X = np.ones((1, 4))
    >>> aopc_comprehensiveness(predict_proba, X, [[0.9, 0.8, 0.1, 0.0]], percentages=[25, 50])
    {{'AOPC': 0.75, 'drop': array([0.5, 1. ]), 'percentages': array([25., 50.])}}
    >>> elsewhere = [[0.0, 0.1, 0.8, 0.9]]
    >>> aopc_comprehensiveness(predict_proba, X, elsewhere, percentages=[25, 50])["AOPC"]
    0.0
    """
    return _aopc(estimator, X, S, percentages, baseline, keep_top=False)


def aopc_sufficiency(
    estimator: Any,
    X: Any,
    S: Any,
    *,
    percentages: Any = DEFAULT_PERCENTAGES,
    baseline: Any = 0.0,
) -> dict[str, Any]:
    """Sufficiency (ERASER, DeYoung et al. 2020): confidence lost with only the top cells.

    For each bin k, every cell except the top k% by saliency is replaced by
    ``baseline``; the score is the predicted class's probability on the
    intact input minus its probability on the input reduced to its top
    cells, averaged over samples and over the bins. Lower is better (it can
    be negative): a faithful map names cells that suffice for the prediction.
    {parameters}
    Examples
    --------
    The model of :func:`aopc_comprehensiveness`: the two cells it reads,
    kept alone, suffice (no drop); two other cells do not.

    >>> def predict_proba(inputs):
    ...     p = (inputs[:, :2] > 0).mean(axis=1)
    ...     return np.stack([1 - p, p], axis=1)
    >>> X = np.ones((1, 4))
    >>> aopc_sufficiency(predict_proba, X, [[0.9, 0.8, 0.1, 0.0]], percentages=[50])["AOPC"]
    0.0
    >>> aopc_sufficiency(predict_proba, X, [[0.0, 0.1, 0.8, 0.9]], percentages=[50])["AOPC"]
    1.0
    """
    return _aopc(estimator, X, S, percentages, baseline, keep_top=True)


for _function in (aopc_comprehensiveness, aopc_sufficiency):
    if _function.__doc__:  # docstrings are stripped under python -OO
        _function.__doc__ = _function.__doc__.format(parameters=_PARAMETERS)
del _function
