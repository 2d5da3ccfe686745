"""The scikit-learn estimators, built on skorch."""

from typing import Any

from xsup.estimators._classifier import ExplanationSupervisedClassifier
from xsup.estimators._regressor import ExplanationSupervisedRegressor

__all__ = ["ExplanationAccelerateMixin", "ExplanationSupervisedClassifier",
           "ExplanationSupervisedRegressor"]


def __getattr__(name: str) -> Any:
    """Import the Accelerate mixin on first use: skorch.hf is slow to import."""
    if name == "ExplanationAccelerateMixin":
        from xsup.estimators._accelerate import ExplanationAccelerateMixin

        return ExplanationAccelerateMixin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
