"""Built-in explainers (``explainer=`` names): gradcam, gradient, tsr,
the Captum-backed post-hoc methods and the random control."""

from xsup.explainers.captum_methods import (
    DeepLift,
    DeepShap,
    FeatureAblation,
    FeaturePermutation,
    GradientShap,
    IntegratedGradients,
    Occlusion,
    ShapleySampling,
    SmoothGrad,
)
from xsup.explainers.gradcam import GradCAM
from xsup.explainers.gradient import InputGradient
from xsup.explainers.random import RandomSaliency
from xsup.explainers.tsr import TemporalSaliencyRescaling

__all__ = [
    "DeepLift", "DeepShap", "FeatureAblation", "FeaturePermutation", "GradCAM", "GradientShap",
    "InputGradient", "IntegratedGradients", "Occlusion", "RandomSaliency", "ShapleySampling",
    "SmoothGrad", "TemporalSaliencyRescaling"]
