"""Built-in annotation interpolators (``interpolator=`` names): none, nearest, linear, stes."""

from xsup.interpolators.simple import LinearInterpolation, NearestInterpolation, NoInterpolation
from xsup.interpolators.stes import STESInterpolator

__all__ = ["LinearInterpolation", "NearestInterpolation", "NoInterpolation", "STESInterpolator"]
