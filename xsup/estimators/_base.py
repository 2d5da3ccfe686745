"""The skorch net shared by the classifier and the regressor: plugins, training step, explain."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import PassthroughScoring
from skorch.dataset import Dataset, ValidSplit, unpack_data
from skorch.utils import to_tensor
from sklearn.utils import check_random_state

from xsup import plugins
from xsup.callbacks import warn_incomplete_checkpoints
from xsup.estimators._components import PluginComponentsMixin
from xsup.estimators._data import RowDataset, resolve_device
from xsup.estimators._parameters import ParameterChecksMixin
from xsup.objective import ExplanationObjective, ObjectiveTerms, double_backward_context
from xsup.saliency import normalize_saliency
from xsup.spec import KIND_BY_NDIM, InputSpec
from xsup.validation import (
    check_annotation,
    check_input,
    check_matches_training,
    check_sample_weight,
)

#: Batch terms besides the loss that are averaged into epoch columns ``train_*``/``valid_*``.
LOGGED_TERMS = ("explanation", "reconstruction")


class ExplanationSupervisedNet(ParameterChecksMixin, PluginComponentsMixin, NeuralNet):
    """Training with an explanation term; base of the classifier and the regressor.

    Subclasses set the task, encode targets and choose the explained output.
    See :class:`xsup.ExplanationSupervisedClassifier` for the parameters.
    """

    __metadata_request__fit = {"E": True}
    __metadata_request__partial_fit = {"E": True}

    #: Prefixes routed to components that are not torch modules (skorch registers the others).
    prefixes_ = NeuralNet.prefixes_ + ["explainer"]

    _task = "classification"

    def __init__(
        self,
        module: Any,
        criterion: Any,
        *,
        loss: Any,
        explainer: Any,
        interpolator: Any,
        sigma1: float,
        sigma2: float,
        alpha: float,
        k: float,
        explanation_scale: str,
        random_state: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(module, criterion, **kwargs)
        self.loss = loss
        self.explainer = explainer
        self.interpolator = interpolator
        self.sigma1 = sigma1
        self.sigma2 = sigma2
        self.alpha = alpha
        self.k = k
        self.explanation_scale = explanation_scale
        self.random_state = random_state

    # ------------------------------------------------------------------ device "auto"
    @property  # type: ignore[override]
    def device(self) -> Any:
        """The compute device; ``"auto"`` resolves to CUDA when present."""
        return resolve_device(self.__dict__.get("device", "auto"))

    @device.setter
    def device(self, value: Any) -> None:
        self.__dict__["device"] = value

    def get_params(self, deep: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Parameters as given to ``__init__`` (``device="auto"`` stays ``"auto"``)."""
        params = super().get_params(deep=deep, **kwargs)
        params["device"] = self.__dict__.get("device")
        params.pop("_params_to_validate", None)  # skorch's bookkeeping, not a parameter
        return params

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("explanation_scale", "none")  # pickled before the option existed
        if state.get("initialized_"):
            state.setdefault("explanation_scaler_", None)
            state.setdefault("plugins_checked_", True)
        requested = state.get("device")
        state["device"] = resolve_device(requested)
        super().__setstate__(state)
        if isinstance(requested, str) and requested == "auto":
            self.__dict__["device"] = "auto"

    # ------------------------------------------------------------------ components
    @property
    def _default_callbacks(self) -> list[tuple[str, Any]]:
        callbacks = super()._default_callbacks
        position = [name for name, _ in callbacks].index("valid_loss")
        callbacks[position:position] = [
            (f"train_{term}", PassthroughScoring(name=f"train_{term}", on_train=True))
            for term in LOGGED_TERMS
        ]
        for term in LOGGED_TERMS:  # epochs without the term (no validation data...) skip it
            callbacks.insert(-1, (f"valid_{term}", PassthroughScoring(name=f"valid_{term}")))
        return callbacks

    # ------------------------------------------------------------------ data
    def _validate_fit_data(
        self, X: Any, y: Any, E: Any, sample_weight: Any, fit_params: dict[str, Any],
        reset: bool, classes: Any = None,
    ) -> tuple[Any, np.ndarray, Any, Any]:
        if fit_params:
            raise TypeError(
                f"{type(self).__name__}.fit got unexpected keyword argument(s) "
                f"{', '.join(map(repr, sorted(fit_params)))}: it takes X, y, E and sample_weight; "
                "options of the module's forward go in module__* parameters."
            )
        self.check_parameters()
        self._check_training_step()
        X = check_input(X)
        if len(X) < 2:
            raise ValueError(f"X must have at least 2 samples to fit; got n_samples = {len(X)}.")
        if not reset:
            check_matches_training(X, self)
        y, n_outputs = self._encode_target(y, X, reset=reset, classes=classes)
        kind = KIND_BY_NDIM[X.ndim]
        if reset:
            self.input_spec_ = InputSpec(kind, tuple(X.shape[1:]), n_outputs, self._task)
            self.n_features_in_ = X.shape[1]
        E = check_annotation(E, X, self.input_spec_)
        loss_class = plugins.plugin_class("losses", self.loss)
        if E is None and loss_class.requires_annotation:
            raise ValueError(
                f"loss={self.loss!r} needs annotations: pass E to fit(X, y, E) with shape "
                f"(n_samples, *{self.input_spec_.annotation_shape})."
            )
        return X, y, E, check_sample_weight(sample_weight, len(X))

    def _check_training_step(self) -> None:
        """Refuse skorch's ``AccelerateMixin`` step, which would drop the explanation term."""
        step = type(self).train_step_single
        if step.__module__ == "skorch.hf":
            raise TypeError(
                f"{type(self).__name__} takes its training step from skorch.hf.AccelerateMixin, "
                "which never computes the explanation term; use "
                "xsup.ExplanationAccelerateMixin in its place."
            )

    def get_dataset(self, X: Any, y: Any = None) -> Any:
        """skorch's dataset; rows of read-only memory maps are copied one at a time."""
        if self.dataset is Dataset and not isinstance(X, torch.utils.data.Dataset):
            return RowDataset(X, y, **self.get_params_for("dataset"))
        return super().get_dataset(X, y)

    def get_split_datasets(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """skorch's internal split; a split that cannot be made names ``train_split``."""
        try:
            return super().get_split_datasets(X, y, **fit_params)
        except ValueError as error:
            n_samples = "the" if y is None else f"the {len(y)}"
            split = self.train_split
            if isinstance(split, ValidSplit):
                split = f"ValidSplit({split.cv!r}, stratified={split.stratified!r})"
            raise ValueError(
                f"train_split={split} cannot split {n_samples} training samples "
                f"({error}); pass train_split=None to train on every sample without an internal "
                "validation split, or fit on more samples."
            ) from None

    @staticmethod
    def _pack(X: Any, E: Any, sample_weight: Any) -> Any:
        """Let skorch's Dataset, ValidSplit and DataLoader slice E and the weights with X."""
        if E is None and sample_weight is None:
            return X
        packed = {"X": X, "E": E, "sample_weight": sample_weight}
        return {key: value for key, value in packed.items() if value is not None}

    def _to_model(self, tensor: Any) -> torch.Tensor:
        """Move a batch to the device in the floating dtype of the model's parameters."""
        dtype = next(self.module_.parameters()).dtype
        return to_tensor(tensor, device=self.device).to(dtype)

    def _split_batch_input(self, Xi: Any) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        if isinstance(Xi, Mapping):
            E, weight = Xi.get("E"), Xi.get("sample_weight")
            return (self._to_model(Xi["X"]), None if E is None else self._to_model(E),
                    None if weight is None else self._to_model(weight))
        return self._to_model(Xi), None, None

    def infer(self, x: Any, **fit_params: Any) -> torch.Tensor:
        """Forward a batch; annotations and weights packed with X are stripped first."""
        return self.module_(self._split_batch_input(x)[0], **fit_params)

    # ------------------------------------------------------------------ training step
    def objective(self, *, check_plugins: bool = False) -> ExplanationObjective:
        """The per-batch objective of the fitted components (see :mod:`xsup.objective`)."""
        return ExplanationObjective(
            self.module_, self.criterion_, self.loss_, self.explainer_, self.interpolator_,
            self.input_spec_, sigma1=self.sigma1, sigma2=self.sigma2,
            scale=self.explanation_scaler_, check_plugins=check_plugins,
        )

    def _batch_losses(self, batch: Any, training: bool) -> dict[str, torch.Tensor]:
        """Prediction, explanation and reconstruction terms of one batch, and their weighted sum."""
        Xi, yi = unpack_data(batch)
        X, E, weight = self._split_batch_input(Xi)
        y = self._prepare_target(to_tensor(yi, device=self.device))
        first = training and not self.plugins_checked_
        terms = self.objective(check_plugins=first)(
            X, y, self._training_target(y), E, training=training, sample_weight=weight
        )
        self.plugins_checked_ = self.plugins_checked_ or first
        self._check_finite(terms, training)
        prefix = "train" if training else "valid"
        self.history.record_batch(f"{prefix}_explanation", float(terms.explanation.detach()))
        if terms.reconstruction is not None:
            self.history.record_batch(f"{prefix}_reconstruction", float(terms.reconstruction.detach()))
        return {"loss": terms.total, "y_pred": terms.output}

    def _check_finite(self, terms: ObjectiveTerms, training: bool) -> None:
        """Stop the fit at the first NaN or infinite term, before it reaches the parameters."""
        term = terms.non_finite_term()
        if term is None:
            return
        remedy = {"prediction": f"lower lr (now {self.lr!r})",
                  "explanation": f"lower sigma1 (now {self.sigma1!r}) or lr (now {self.lr!r})",
                  "reconstruction": f"lower sigma2 (now {self.sigma2!r}) or lr (now {self.lr!r})"}
        value = float(getattr(terms, term).detach())
        raise FloatingPointError(
            f"Training diverged in epoch {len(self.history)}: the {term} term of a "
            f"{'training' if training else 'validation'} batch is {value}. Remedies: {remedy[term]}, "
            "or check X for extreme values."
        )

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict[str, torch.Tensor]:
        """One training step: forward, explanation (``create_graph=True``), backward."""
        self._set_training(True)
        step = self._batch_losses(batch, training=True)
        step["loss"].backward(inputs=self._gradient_inputs())
        return step

    def _gradient_inputs(self) -> list[torch.Tensor] | None:
        """What the training backward differentiates: None (every leaf) or the learnable parameters.

        A loss with ``requires_input_gradient`` makes the batch X a leaf that requires
        grad, only to read ``d score / d X`` inside the loss; naming the parameters
        keeps the backward from also computing (and accumulating) a gradient for X
        that nothing uses. The parameters' gradients are the same either way.
        """
        if not self.loss_.requires_input_gradient:
            return None
        params = [p for _, p in self.get_all_learnable_params() if p.requires_grad]
        return params or None

    def validation_step(self, batch: Any, **fit_params: Any) -> dict[str, torch.Tensor]:
        """Validation loss including the explanation term (gradients enabled as it needs)."""
        self._set_training(False)
        step = self._batch_losses(batch, training=False)
        return {name: value.detach() for name, value in step.items()}

    # ------------------------------------------------------------------ fitting
    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Warn about checkpoints that would lose the learnable parts of the plugins."""
        warn_incomplete_checkpoints(self)

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        """Start the epoch's history row; a resumed fit continues its explanation scale."""
        super().on_epoch_begin(net, **kwargs)
        scaler = self.explanation_scaler_
        if scaler is not None and scaler.state is None and len(self.history) > 1:
            state = self.history[-2].get("explanation_scale_state")
            scaler.state = None if state is None else (float(state[0]), float(state[1]))

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Record the running explanation scale (``explanation_scale="auto"``) in the history."""
        if self.explanation_scaler_ is not None:
            self.history.record("explanation_scale", self.explanation_scaler_.value)
            self.history.record("explanation_scale_state", self.explanation_scaler_.state)

    @contextlib.contextmanager
    def _seeded(self, epochs_done: int = 0) -> Iterator[None]:
        """Seed torch from ``random_state`` without touching the caller's random state."""
        if self.random_state is None:
            yield
            return
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        seed += epochs_done  # partial_fit continues with fresh randomness
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    def fit(
        self, X: Any, y: Any = None, E: Any = None, sample_weight: Any = None, **fit_params: Any
    ) -> ExplanationSupervisedNet:
        """Fit the network with the prediction loss plus the explanation term.

        Parameters
        ----------
        X : array-like
            ``(N, F)``, ``(N, T, F)``, ``(N, C, H, W)`` or ``(N, T, C, H, W)``;
            numpy, torch or memory-mapped.
        y : array-like of shape (N,)
            Targets.
        E : array-like or None, default=None
            Annotations shaped ``(N, F)``, ``(N, T, F)``, ``(N, H, W)`` or
            ``(N, T, H, W)``: 1 should matter, -1 should not, 0 unknown, NaN missing.
        sample_weight : array-like of shape (N,) or None, default=None
            Non-negative weights. Each batch's prediction loss and explanation
            term become weighted means over its samples (the explanation term
            over its annotated samples), so a sample of weight 0 contributes
            nothing, as if it were removed from the batch; it still takes its
            place in batches and in the internal validation split.
        **fit_params
            Not accepted: a ``TypeError`` names any other keyword.

        Returns
        -------
        self
        """
        reset = not (self.warm_start and self.initialized_)
        X, y, E, sample_weight = self._validate_fit_data(X, y, E, sample_weight, fit_params, reset)
        with self._seeded():
            if reset:
                self.initialize()
            return super().partial_fit(self._pack(X, E, sample_weight), y)

    def partial_fit(
        self, X: Any, y: Any = None, E: Any = None, classes: Any = None, sample_weight: Any = None,
        **fit_params: Any,
    ) -> ExplanationSupervisedNet:
        """Train for ``max_epochs`` more epochs without re-initialising a fitted net.

        Parameters are those of :meth:`fit`; ``classes`` lists every class on
        the first call of a classifier, as scikit-learn's ``partial_fit`` does.
        """
        first_call = not self.initialized_
        X, y, E, sample_weight = self._validate_fit_data(
            X, y, E, sample_weight, fit_params, reset=first_call, classes=classes
        )
        with self._seeded(epochs_done=0 if first_call else len(self.history)):
            if first_call:
                self.initialize()
            return super().partial_fit(self._pack(X, E, sample_weight), y)

    # ------------------------------------------------------------------ prediction and explanation
    def _check_predict_input(self, X: Any) -> Any:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = check_input(X)
        check_matches_training(X, self)
        return X

    def forward_outputs(self, X: Any) -> np.ndarray:
        """Raw model outputs (logits for a classifier) for validated input, as numpy."""
        return np.concatenate(
            [output.detach().cpu().numpy() for output in self.forward_iter(X, training=False)]
        )

    def predicted_outputs(self, X: Any) -> np.ndarray:
        """Model outputs for validated input after ``predict_nonlinearity``.

        ``"auto"``: class probabilities (softmax) for a classifier, the raw
        outputs for a regressor; None: the raw outputs; a callable: applied to
        the outputs as a torch tensor, as skorch does.
        """
        outputs = torch.as_tensor(self.forward_outputs(X))
        nonlinearity = self.predict_nonlinearity
        if isinstance(nonlinearity, str):  # "auto"
            return self._default_nonlinearity(outputs).numpy()
        if nonlinearity is None:
            return outputs.numpy()
        result = nonlinearity(outputs)
        return result.detach().cpu().numpy() if isinstance(result, torch.Tensor) else np.asarray(result)

    def _default_nonlinearity(self, outputs: torch.Tensor) -> torch.Tensor:
        """What ``predict_nonlinearity="auto"`` applies to the outputs."""
        return outputs

    def _explain_batches(self, X: Any, min_size: int) -> Iterator[torch.Tensor]:
        """Batches of ``X`` for ``explain``; a last batch under ``min_size`` joins the one before."""
        previous = None
        for batch in self.get_iterator(self.get_dataset(X), training=False):
            current = self._to_model(unpack_data(batch)[0])
            if previous is not None and len(current) < min_size:
                current = torch.cat([previous, current])
            elif previous is not None:
                yield previous
            previous = current
        if previous is not None:
            yield previous

    def explain(
        self, X: Any, method: str | None = None, target: Any = None, **kwargs: Any
    ) -> np.ndarray:
        """Saliency maps shaped like the annotations, normalised per sample to [0, 1].

        Parameters
        ----------
        X : array-like
            Inputs shaped like the training inputs.
        method : str, Explainer or None, default=None
            A registered explainer name (e.g. ``"gradient"``), an explainer
            instance, or None for the training explainer.
        target : array-like, scalar or None, default=None
            What to explain: class labels for a classifier (default: the
            predicted class), output columns for a regressor (default: 0).
        **kwargs
            Options of the explainer named by ``method``. A stochastic
            explainer (``smoothgrad``, ``occlusion``, ``random``...) gets the
            estimator's ``random_state`` unless ``random_state`` is given here,
            so a seeded estimator explains the same way on every call.

        Returns
        -------
        numpy.ndarray
            ``(N, F)``, ``(N, T, F)``, ``(N, H, W)`` or ``(N, T, H, W)``.
        """
        X = self._check_predict_input(X)
        explainer = (
            self.explainer_ if method is None and not kwargs
            else self._build_explainer(self.explainer if method is None else method, kwargs)
        )
        targets = self._explained_target(X, target)
        self._set_training(False)
        # explainers hook layers: with compile=True, those of the original module
        module = getattr(self.module_, "_orig_mod", self.module_)
        maps, start = [], 0
        for Xb in self._explain_batches(X, explainer.min_batch_size):
            tb = torch.as_tensor(targets[start : start + len(Xb)], device=self.device)
            start += len(Xb)
            with torch.enable_grad(), double_backward_context(module):
                _, raw = explainer.explain(module, Xb, tb, self.input_spec_)
            maps.append(normalize_saliency(raw.detach()).cpu().numpy())
        return np.concatenate(maps)
