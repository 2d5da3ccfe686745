"""Figures for explanations (needs matplotlib: ``pip install "xsup[plot]"``).

matplotlib is imported when a function is called, not when this package is.
"""

from xsup.plot._saliency import plot_saliency_overlays

__all__ = ["plot_saliency_overlays"]
