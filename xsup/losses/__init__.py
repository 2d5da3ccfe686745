"""Built-in explanation losses (``loss=`` names): none, gradia."""

from xsup.losses.gradia import GradiaLoss
from xsup.losses.none import NoExplanationLoss

__all__ = ["GradiaLoss", "NoExplanationLoss"]
