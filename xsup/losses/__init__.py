"""Built-in explanation losses (``loss=`` names): none, gradia, haics, res, rrr, sgt, stes."""

from xsup.losses.gradia import GradiaLoss
from xsup.losses.haics import HaicsLoss
from xsup.losses.none import NoExplanationLoss
from xsup.losses.res import RESLoss
from xsup.losses.rrr import RRRLoss
from xsup.losses.sgt import SaliencyGuidedLoss
from xsup.losses.stes import STESLoss

__all__ = ["GradiaLoss", "HaicsLoss", "NoExplanationLoss", "RESLoss", "RRRLoss",
           "SaliencyGuidedLoss", "STESLoss"]
