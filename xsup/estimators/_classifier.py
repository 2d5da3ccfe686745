"""ExplanationSupervisedClassifier."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d
from skorch.callbacks import EpochScoring
from skorch.dataset import ValidSplit

from xsup.estimators._base import ExplanationSupervisedNet
from xsup.validation import check_consistent_samples, check_target_per_sample


def _encoded_accuracy(net: ExplanationSupervisedClassifier, X: Any, y: Any) -> float:
    """Validation accuracy on skorch's internal split (targets already encoded)."""
    return accuracy_score(np.asarray(y), net.forward_outputs(X).argmax(axis=1))


class ExplanationSupervisedClassifier(ClassifierMixin, ExplanationSupervisedNet):
    """A classifier trained so that its saliency maps agree with annotations.

    Built on skorch's ``NeuralNet``: every skorch argument (``train_split``,
    ``iterator_train__*``, ``callbacks``, ``warm_start``...) is accepted.
    Plugin options go through prefixes: ``loss__*``, ``explainer__*``,
    ``interpolator__*``, ``module__*``.

    Parameters
    ----------
    module : str, torch.nn.Module class or instance, default="auto"
        Backbone: a registered name (``mlp``, ``cnn``, ``cnn_gru``, ``tcn``,
        ...), or a module. ``"auto"`` picks by the number of dimensions of X:
        mlp (N, F), tcn (N, T, F), cnn (N, C, H, W), cnn_gru (N, T, C, H, W).
    loss : str, default="none"
        Explanation loss plugin; ``"none"`` trains on the prediction loss alone.
    explainer : str, default="auto"
        Differentiable training-time explainer; ``"auto"`` is Grad-CAM for
        images and raster sequences with a convolutional backbone, input
        gradients otherwise.
    interpolator : str, default="none"
        Fills missing annotation frames of sequences.
    sigma1 : float, default=1.0
        Weight of the explanation term.
    sigma2 : float, default=1.0
        Weight of a learned interpolator's reconstruction term.
    alpha : float, default=0.0
        Tolerance (hinge threshold) of losses that use one.
    k : float, default=0.5
        Fraction of lowest-saliency features masked by saliency-guided training.
    explanation_scale : {"none", "auto"}, default="none"
        ``"none"`` adds ``sigma1`` times the loss's own value, the papers'
        scale. ``"auto"`` first multiplies the explanation term by the running
        ratio of the prediction loss to it (detached, recorded per epoch as
        ``explanation_scale``), so that ``sigma1`` means "explanation weight
        relative to prediction" for every loss and input size; needed for
        losses whose raw value is tiny, such as RRR's mean reduction on
        images and raster sequences.
    criterion : torch loss class, default=torch.nn.CrossEntropyLoss
        Prediction loss on the logits.
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=1e-3
    max_epochs : int, default=20
    batch_size : int, default=32
    train_split : callable or None, default=ValidSplit(5, stratified=True)
        skorch's internal validation split; None trains on everything.
    callbacks : list or None, default=None
        Extra skorch callbacks.
    device : str, default="auto"
        ``"auto"`` uses CUDA when present, else the CPU.
    random_state : int, RandomState or None, default=None
        Seeds initialisation and shuffling (same seed on CPU: same model).
    verbose : int, default=1
        Print a line per epoch.
    predict_nonlinearity : "auto", None or callable, default="auto"
        Applied to the outputs by ``predict_proba`` (and so ``predict``):
        ``"auto"`` is the softmax, None the raw logits, a callable receives
        the output tensor (skorch's meaning).
    **kwargs
        Other skorch ``NeuralNet`` arguments and prefixed plugin options.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Class labels seen in ``fit``.
    input_spec_ : xsup.spec.InputSpec
        Kind and shape of the training data.
    module_, loss_, explainer_, interpolator_ :
        The fitted backbone and plugins.
    history : skorch.History
        Per-epoch log, with ``train_explanation`` and ``valid_explanation`` (and
        ``train_reconstruction``/``valid_reconstruction`` with a learned interpolator).

    Examples
    --------
    >>> import numpy as np
    >>> from xsup import ExplanationSupervisedClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 1, 8, 8)).astype("float32")
    >>> y = (X[:, 0, :4, :4].mean(axis=(1, 2)) > 0).astype(int)
    >>> E = np.zeros((64, 8, 8)); E[:, :4, :4] = 1
    >>> clf = ExplanationSupervisedClassifier(loss="gradia", max_epochs=2, verbose=0,
    ...                                       random_state=0).fit(X, y, E)
    >>> clf.predict(X).shape, clf.explain(X).shape
    ((64,), (64, 8, 8))
    """

    _task = "classification"

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
        criterion: Any = torch.nn.CrossEntropyLoss,
        optimizer: Any = torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 20,
        batch_size: int = 32,
        train_split: Any = ValidSplit(5, stratified=True),
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
    def _default_callbacks(self) -> list[tuple[str, Any]]:
        callbacks = super()._default_callbacks
        callbacks.insert(
            -1,
            ("valid_acc", EpochScoring(_encoded_accuracy, name="valid_acc", lower_is_better=False)),
        )
        return callbacks

    def _encode_target(
        self, y: Any, X: Any, reset: bool, classes: Any = None
    ) -> tuple[np.ndarray, int]:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = column_or_1d(y, warn=True)
        check_consistent_samples(X, y=y)
        try:
            check_classification_targets(y)
        except ValueError as error:
            raise ValueError(
                f"y must hold class labels ({error}); for continuous targets use "
                "ExplanationSupervisedRegressor."
            ) from None
        if reset:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if len(labels) < 2:
                source = "y" if classes is None else "classes"
                raise ValueError(
                    f"{source} has a single class ({labels[0]!r}); a classifier needs at least "
                    "2 classes."
                )
            self.classes_ = labels
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y has labels {unseen.tolist()} not in classes_ {self.classes_.tolist()}."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64), len(self.classes_)

    def _prepare_target(self, y: torch.Tensor) -> torch.Tensor:
        return y.long()

    def _training_target(self, y: torch.Tensor) -> torch.Tensor:
        return y  # explain the true class during training

    def _explained_target(self, X: Any, target: Any) -> np.ndarray:
        if target is None:
            return self.forward_outputs(X).argmax(axis=1)
        labels = check_target_per_sample(target, len(X))
        unknown = np.setdiff1d(labels, self.classes_)
        if unknown.size:
            raise ValueError(
                f"target has labels {unknown.tolist()} not in classes_ {self.classes_.tolist()}."
            )
        return np.searchsorted(self.classes_, labels)

    def _default_nonlinearity(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(outputs, dim=1)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, ``(N, n_classes)``, columns ordered as ``classes_``.

        The softmax of the logits, unless ``predict_nonlinearity`` says otherwise.
        """
        return self.predicted_outputs(self._check_predict_input(X))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``predict(X)`` against ``y`` (scikit-learn's ``score``)."""
        check_consistent_samples(X, y=y)
        return super().score(X, y, sample_weight=sample_weight)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels, ``(N,)``: the class of the largest ``predict_proba``."""
        X = self._check_predict_input(X)
        if isinstance(self.predict_nonlinearity, str):  # "auto": the softmax keeps the order
            return self.classes_[self.forward_outputs(X).argmax(axis=1)]
        return self.classes_[self.predicted_outputs(X).argmax(axis=1)]
