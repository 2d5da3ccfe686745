"""Explanation, faithfulness and prediction metrics, and explanation scorers.

Pure functions of numpy arrays or torch tensors. Explanation metrics compare
saliency maps ``S`` (normalised to [0, 1], as ``explain`` returns them) with
annotations ``E`` of the same shape; the time-series saliency metrics of
Ismail et al. and the ERASER faithfulness scores also take a fitted model;
prediction metrics complement :mod:`sklearn.metrics`; explanation scorers
let scikit-learn searches select on explanation quality.
"""

from xsup.metrics._accuracy_drop import accuracy_drop
from xsup.metrics._explanation import explanation_iou, explanation_precision_recall_f1
from xsup.metrics._faithfulness import aopc_comprehensiveness, aopc_sufficiency
from xsup.metrics._pointing import pointing_hit_rate
from xsup.metrics._prediction import true_skill_statistic
from xsup.metrics._scorers import ExplanationScorer, explanation_scorer
from xsup.metrics._time_series import saliency_precision_recall

__all__ = [
    "ExplanationScorer",
    "accuracy_drop",
    "aopc_comprehensiveness",
    "aopc_sufficiency",
    "explanation_iou",
    "explanation_precision_recall_f1",
    "explanation_scorer",
    "pointing_hit_rate",
    "saliency_precision_recall",
    "true_skill_statistic",
]
