"""Built-in annotation interpolators (``interpolator=`` names): none."""

from xsup.interpolators.simple import NoInterpolation

__all__ = ["NoInterpolation"]
