"""Built-in explainers (``explainer=`` names): gradcam, gradient."""

from xsup.explainers.gradcam import GradCAM
from xsup.explainers.gradient import InputGradient

__all__ = ["GradCAM", "InputGradient"]
