"""xsup: explanation supervision for deep networks.

Train networks whose saliency maps agree with what experts annotated, and
measure whether they do.
"""

from xsup.estimators import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor

__version__ = "0.1.0"

__all__ = ["ExplanationSupervisedClassifier", "ExplanationSupervisedRegressor", "__version__"]
