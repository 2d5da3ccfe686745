"""xsup: explanation supervision for deep networks.

Train networks whose saliency maps agree with what experts annotated, and
measure whether they do.
"""

from typing import Any

from xsup import callbacks
from xsup.estimators import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor

__version__ = "0.1.0"

__all__ = [
    "ExplanationAccelerateMixin", "ExplanationSupervisedClassifier",
    "ExplanationSupervisedRegressor", "__version__", "callbacks"]


def __getattr__(name: str) -> Any:
    """Import the Accelerate mixin on first use: skorch.hf is slow to import."""
    if name == "ExplanationAccelerateMixin":
        from xsup.estimators import ExplanationAccelerateMixin

        return ExplanationAccelerateMixin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
