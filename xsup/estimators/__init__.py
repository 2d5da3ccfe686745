"""The scikit-learn estimators, built on skorch."""

from xsup.estimators._classifier import ExplanationSupervisedClassifier
from xsup.estimators._regressor import ExplanationSupervisedRegressor

__all__ = ["ExplanationSupervisedClassifier", "ExplanationSupervisedRegressor"]
