"""ExplanationSupervisedRegressor."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_array
from skorch.dataset import ValidSplit

from xsup.estimators._base import ExplanationSupervisedNet
from xsup.validation import check_consistent_samples, check_target_per_sample


class ExplanationSupervisedRegressor(RegressorMixin, ExplanationSupervisedNet):
    """A regressor trained so that its saliency maps agree with annotations.

    Everything is as in :class:`~xsup.ExplanationSupervisedClassifier` except
    the head (one output per target), the prediction loss (mean squared
    error) and the explained output: ``target`` selects an output column, 0
    by default. There is no ``predict_proba``; ``predict_nonlinearity`` (None
    or ``"auto"``: the raw outputs; a callable: applied to the output tensor)
    shapes what ``predict`` returns.

    Examples
    --------
    >>> import numpy as np
    >>> from xsup import ExplanationSupervisedRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 5)).astype("float32")
    >>> y = X[:, 0] - 2 * X[:, 1]
    >>> reg = ExplanationSupervisedRegressor(max_epochs=2, verbose=0, random_state=0).fit(X, y)
    >>> reg.predict(X).shape, reg.explain(X).shape
    ((64,), (64, 5))
    """

    _task = "regression"

    def __init__(
        self,
        module: Any = "auto",
        loss: Any = "none",
        explainer: Any = "auto",
        interpolator: Any = "none",
        sigma1: float = 1.0,
        sigma2: float = 1.0,
        alpha: float = 0.0,
        k: float = 0.5,
        *,
        explanation_scale: str = "none",
        criterion: Any = torch.nn.MSELoss,
        optimizer: Any = torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 20,
        batch_size: int = 32,
        train_split: Any = ValidSplit(5),
        callbacks: Any = None,
        device: Any = "auto",
        random_state: Any = None,
        verbose: int = 1,
        predict_nonlinearity: Any = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            module, criterion, loss=loss, explainer=explainer, interpolator=interpolator,
            sigma1=sigma1, sigma2=sigma2, alpha=alpha, k=k, explanation_scale=explanation_scale,
            random_state=random_state,
            optimizer=optimizer, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
            train_split=train_split, callbacks=callbacks, device=device, verbose=verbose,
            predict_nonlinearity=predict_nonlinearity, **kwargs,
        )

    @property
    def predict_proba(self) -> Any:
        """Regressors have no class probabilities (hides skorch's ``NeuralNet.predict_proba``)."""
        raise AttributeError(f"{type(self).__name__} has no predict_proba; use predict.")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _encode_target(
        self, y: Any, X: Any, reset: bool, classes: Any = None
    ) -> tuple[np.ndarray, int]:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        check_consistent_samples(X, y=y)
        try:
            y = check_array(
                y, ensure_2d=False, allow_nd=True, dtype=[np.float32, np.float64], input_name="y"
            )
        except (TypeError, ValueError) as error:
            raise type(error)(f"y must hold finite real numbers; {error}") from None
        if y.ndim > 2:
            raise ValueError(f"y must have shape (n_samples,) or (n_samples, n_targets); got {y.shape}.")
        if reset:
            self.n_targets_ = 1 if y.ndim == 1 else y.shape[1]
            self.single_target_ = y.ndim == 1
        elif (1 if y.ndim == 1 else y.shape[1]) != self.n_targets_:
            raise ValueError(f"y has shape {y.shape}, but the model predicts {self.n_targets_} target(s).")
        return y.reshape(len(y), -1).astype(np.float32), self.n_targets_

    def _prepare_target(self, y: torch.Tensor) -> torch.Tensor:
        return y.to(next(self.module_.parameters()).dtype)

    def _training_target(self, y: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(y), dtype=torch.long, device=y.device)

    def _explained_target(self, X: Any, target: Any) -> np.ndarray:
        columns = check_target_per_sample(0 if target is None else target, len(X))
        if not np.issubdtype(columns.dtype, np.integer) or columns.min() < 0 or columns.max() >= self.n_targets_:
            raise ValueError(
                f"target must be output column indices in [0, {self.n_targets_ - 1}]; got {target!r}."
            )
        return columns.astype(np.int64)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Coefficient of determination R^2 of ``predict(X)`` against ``y`` (scikit-learn's ``score``)."""
        check_consistent_samples(X, y=y)
        return super().score(X, y, sample_weight=sample_weight)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets: ``(N,)`` when fitted on a 1-D y, else ``(N, n_targets)``.

        The outputs, after ``predict_nonlinearity`` when it is None or a callable.
        """
        X = self._check_predict_input(X)
        outputs = self.predicted_outputs(X).astype(np.float64)
        return outputs[:, 0] if self.single_target_ else outputs
