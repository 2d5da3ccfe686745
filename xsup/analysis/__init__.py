"""Analyses of fitted models beyond their saliency maps.

:func:`perturbation_analysis` measures how far in space and time a model
looks, by shuffling the input at growing distances and lags (Robin et al.).
"""

from xsup.analysis.perturbation import (
    PerturbationCurve,
    PerturbationResult,
    perturbation_analysis,
)

__all__ = ["PerturbationCurve", "PerturbationResult", "perturbation_analysis"]
