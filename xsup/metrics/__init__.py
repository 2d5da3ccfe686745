"""Explanation and prediction metrics.

Pure functions of numpy arrays or torch tensors. Explanation metrics compare
saliency maps ``S`` (normalised to [0, 1], as ``explain`` returns them) with
annotations ``E`` of the same shape; prediction metrics complement
:mod:`sklearn.metrics`.
"""

from xsup.metrics._explanation import explanation_iou, explanation_precision_recall_f1
from xsup.metrics._prediction import true_skill_statistic

__all__ = ["explanation_iou", "explanation_precision_recall_f1", "true_skill_statistic"]
