"""The skorch net shared by the classifier and the regressor: plugins, training step, explain."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import PassthroughScoring
from skorch.dataset import Dataset, unpack_data
from skorch.utils import to_tensor
from sklearn.utils import check_random_state
from torch import nn

from xsup import plugins
from xsup.batch import ExplanationBatch, annotated_frames
from xsup.estimators._components import PluginComponentsMixin
from xsup.saliency import normalize_saliency
from xsup.spec import KIND_BY_NDIM, InputSpec
from xsup.validation import (
    check_annotation,
    check_hyperparameters,
    check_input,
    check_matches_training,
)

#: Batch terms besides the loss that are averaged into epoch columns ``train_*``/``valid_*``.
LOGGED_TERMS = ("explanation", "reconstruction")


class RowDataset(Dataset):
    """skorch's Dataset, copying each row read from a read-only array (a memory map opened "r").

    torch would otherwise wrap the read-only row without a copy and warn; one row is cheap.
    """

    def transform(self, X: Any, y: Any) -> tuple[Any, Any]:
        X, y = super().transform(X, y)
        if isinstance(X, Mapping):
            return {key: _writable(value) for key, value in X.items()}, y
        return _writable(X), y


def _writable(row: Any) -> Any:
    return np.array(row) if isinstance(row, np.ndarray) and not row.flags.writeable else row


def resolve_device(device: Any) -> Any:
    """``"auto"`` becomes ``"cuda"`` when a GPU is visible, else ``"cpu"``; other values pass."""
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class ExplanationSupervisedNet(PluginComponentsMixin, NeuralNet):
    """Training with an explanation term; base of the classifier and the regressor.

    Subclasses set the task, encode targets and choose the explained output.
    See :class:`xsup.ExplanationSupervisedClassifier` for the parameters.
    """

    __metadata_request__fit = {"E": True}
    __metadata_request__partial_fit = {"E": True}

    #: Prefixes routed to components that are not torch modules (skorch registers the others).
    prefixes_ = NeuralNet.prefixes_ + ["explainer"]

    _task = "classification"

    # ------------------------------------------------------------------ scikit-learn's __init__ contract
    # skorch's __init__ also sets bookkeeping attributes; scikit-learn wants __init__ to set
    # parameters only. They are removed at the end of __init__; __getattr__ then supplies their
    # defaults until the net sets them.
    _UNSET_STATE = {"history_": None, "initialized_": False, "virtual_params_": None}

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
        self.random_state = random_state
        for name in self._UNSET_STATE:
            self.__dict__.pop(name, None)
        self.__dict__["_constructed_"] = True

    def __getattr__(self, name: str) -> Any:
        if name in ExplanationSupervisedNet._UNSET_STATE and self.__dict__.get("_constructed_"):
            value = {} if name == "virtual_params_" else self._UNSET_STATE[name]
            self.__dict__[name] = value
            return value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
        params.pop("_params_to_validate", None)
        return params

    def __setstate__(self, state: dict[str, Any]) -> None:
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
        self, X: Any, y: Any, E: Any, reset: bool, classes: Any = None
    ) -> tuple[Any, np.ndarray, Any]:
        check_hyperparameters(self)
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
        loss_cls = self.loss if not isinstance(self.loss, str) else plugins.get("losses", self.loss)
        if E is None and getattr(loss_cls, "requires_annotation", False):
            raise ValueError(
                f"loss={self.loss!r} needs annotations: pass E to fit(X, y, E) with shape "
                f"(n_samples, *{self.input_spec_.annotation_shape})."
            )
        return X, y, E

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

    @staticmethod
    def _pack(X: Any, E: Any) -> Any:
        """Let skorch's Dataset, ValidSplit and DataLoader slice E together with X."""
        return X if E is None else {"X": X, "E": E}

    def _to_model(self, tensor: Any) -> torch.Tensor:
        """Move a batch to the device in the floating dtype of the model's parameters."""
        dtype = next(self.module_.parameters()).dtype
        return to_tensor(tensor, device=self.device).to(dtype)

    def _split_batch_input(self, Xi: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        if isinstance(Xi, Mapping):
            E = Xi.get("E")
            return self._to_model(Xi["X"]), None if E is None else self._to_model(E)
        return self._to_model(Xi), None

    def infer(self, x: Any, **fit_params: Any) -> torch.Tensor:
        """Forward a batch; annotations packed with X are stripped first."""
        X, _ = self._split_batch_input(x)
        return self.module_(X, **fit_params)

    # ------------------------------------------------------------------ training step
    def _gradient_context(self) -> contextlib.AbstractContextManager:
        """cuDNN RNNs have no double backward: switch cuDNN off around explained passes."""
        uses_rnn = any(isinstance(m, nn.RNNBase) for m in self.module_.modules())
        # where the parameters are, not self.device: Accelerate places the model with device=None
        on_cuda = any(p.device.type == "cuda" for p in self.module_.parameters())
        if uses_rnn and on_cuda:
            return torch.backends.cudnn.flags(enabled=False)
        return contextlib.nullcontext()

    def _complete_annotation(
        self, E: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if E is None or not self.input_spec_.is_sequence:
            return E, None
        missing = ~annotated_frames(E, self.input_spec_)
        return self.interpolator_(E, missing)

    def _batch_losses(self, batch: Any, training: bool) -> dict[str, torch.Tensor]:
        """Prediction, explanation and reconstruction terms of one batch, and their weighted sum."""
        Xi, yi = unpack_data(batch)
        X, E = self._split_batch_input(Xi)
        y = self._prepare_target(to_tensor(yi, device=self.device))
        target = self._training_target(y)
        loss = self.loss_
        needs_graph = loss.requires_saliency or loss.requires_input_gradient
        if loss.requires_input_gradient:
            X = X.detach().requires_grad_(True)
        with torch.set_grad_enabled(training or needs_graph), self._gradient_context():
            saliency = None
            if loss.requires_saliency:
                output, raw = self.explainer_.explain(
                    self.module_, X, target, self.input_spec_, create_graph=training
                )
                saliency = normalize_saliency(raw)
            else:
                output = self.module_(X)
            prediction = self.criterion_(output, y)
            annotation, reconstruction = (
                self._complete_annotation(E) if loss.requires_annotation else (E, None)
            )
            explanation = loss(
                ExplanationBatch(
                    model=self.module_, X=X, y=y, output=output, target=target,
                    spec=self.input_spec_, annotation=annotation, create_graph=training,
                    _saliency=saliency,
                )
            )
            total = prediction + self.sigma1 * explanation
            if reconstruction is not None:
                total = total + self.sigma2 * reconstruction
        prefix = "train" if training else "valid"
        self.history.record_batch(f"{prefix}_explanation", float(explanation.detach()))
        if reconstruction is not None:
            self.history.record_batch(f"{prefix}_reconstruction", float(reconstruction.detach()))
        return {"loss": total, "y_pred": output}

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

    def fit(self, X: Any, y: Any = None, E: Any = None, **fit_params: Any) -> ExplanationSupervisedNet:
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
        **fit_params
            Passed to skorch (and the module's ``forward``).

        Returns
        -------
        self
        """
        X, y, E = self._validate_fit_data(X, y, E, reset=not (self.warm_start and self.initialized_))
        with self._seeded():
            return super().fit(self._pack(X, E), y, **fit_params)

    def partial_fit(
        self, X: Any, y: Any = None, E: Any = None, classes: Any = None, **fit_params: Any
    ) -> ExplanationSupervisedNet:
        """Train for ``max_epochs`` more epochs without re-initialising a fitted net.

        Parameters are those of :meth:`fit`; ``classes`` lists every class on
        the first call of a classifier, as scikit-learn's ``partial_fit`` does.
        """
        if "_routing_method" in fit_params:  # called by fit() with validated, packed data
            return super().partial_fit(X, y, **fit_params)
        first_call = not self.initialized_
        X, y, E = self._validate_fit_data(X, y, E, reset=first_call, classes=classes)
        with self._seeded(epochs_done=0 if first_call else len(self.history)):
            if first_call:
                self.initialize()
            return super().partial_fit(self._pack(X, E), y, **fit_params)

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
            Options of the explainer named by ``method``.

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
        maps, start = [], 0
        for Xb in self._explain_batches(X, explainer.min_batch_size):
            tb = torch.as_tensor(targets[start : start + len(Xb)], device=self.device)
            start += len(Xb)
            with torch.enable_grad(), self._gradient_context():
                _, raw = explainer.explain(self.module_, Xb, tb, self.input_spec_)
            maps.append(normalize_saliency(raw.detach()).cpu().numpy())
        return np.concatenate(maps)
