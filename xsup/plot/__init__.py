"""Figures for explanations (needs matplotlib: ``pip install "xsup[plot]"``).

matplotlib is imported when a function is called, not when this package is.
"""

from xsup.plot._curves import plot_accuracy_drop, plot_precision_recall, plot_sensitivity
from xsup.plot._perturbation import plot_perturbation
from xsup.plot._saliency import plot_saliency_overlays
from xsup.plot._time_series import plot_time_series_saliency

__all__ = [
    "plot_accuracy_drop",
    "plot_perturbation",
    "plot_precision_recall",
    "plot_saliency_overlays",
    "plot_sensitivity",
    "plot_time_series_saliency",
]
