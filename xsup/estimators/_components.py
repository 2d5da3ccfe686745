"""Building the backbone and the plugins of an explanation-supervised net from their names."""

from __future__ import annotations

import contextlib
from typing import Any

from xsup import plugins
from xsup.base import Backbone, Explainer, Plugin
from xsup.explainers.gradcam import find_layer
from xsup.spec import InputSpec

#: Backbone chosen by ``module="auto"`` for each input kind.
AUTO_MODULE = {
    "tabular": "mlp",
    "time_series": "tcn",
    "images": "cnn",
    "raster_sequences": "cnn_gru",
}

#: Estimator parameters handed to a plugin whose ``__init__`` takes a parameter of that name.
SHARED_PARAMETERS = ("alpha", "k")


class PluginComponentsMixin:
    """skorch ``initialize_*`` hooks that resolve ``module``, ``loss``, ``explainer`` and
    ``interpolator`` (names, classes or instances) with their prefixed options.

    Mixed into :class:`~xsup.estimators._base.ExplanationSupervisedNet` before skorch's
    ``NeuralNet``, whose methods ``super()`` reaches.
    """

    def initialize_module(self) -> Any:
        """Build the backbone for the data seen by ``fit`` (``module="auto"``, a name, a class or an instance)."""
        spec = self._fitted_spec()
        kwargs = self.get_params_for("module")
        module = self.module
        if isinstance(module, str):
            name = AUTO_MODULE[spec.kind] if module == "auto" else module
            module = plugins.get("modules", name)
            if spec.kind not in module.input_kinds:
                raise ValueError(
                    f"module={name!r} takes {', '.join(module.input_kinds)} input; "
                    f"X is {spec.kind.replace('_', ' ')} with samples of shape {spec.sample_shape}."
                )
        if isinstance(module, type) and issubclass(module, Backbone):
            kwargs = {"input_shape": spec.sample_shape, "n_outputs": spec.n_outputs, **kwargs}
        self.module_ = self.initialized_instance(module, kwargs)
        return self

    def initialize_criterion(self) -> Any:
        """Build the prediction criterion and the loss, interpolator and explainer plugins.

        Set here, ``loss_`` and ``interpolator_`` (torch modules) are registered as
        skorch criteria: their parameters join the optimizer, they move with
        ``device``, and ``save_params``/``load_params`` take ``f_loss`` and
        ``f_interpolator`` (which :class:`xsup.callbacks.Checkpoint` saves by default).
        """
        super().initialize_criterion()
        self.loss_ = self._build_plugin("losses", self.loss, "loss")
        self.interpolator_ = self._build_plugin("interpolators", self.interpolator, "interpolator")
        self.explainer_ = self._build_explainer(self.explainer, self.get_params_for("explainer"))
        if self.loss_.requires_saliency and not self.explainer_.differentiable:
            raise ValueError(
                f"loss={self.loss!r} trains through the saliency map, but explainer="
                f"{self.explainer!r} is not differentiable; use 'gradcam' or 'gradient'."
            )
        return self

    def _build_plugin(self, kind: str, value: Any, prefix: str, kwargs: dict | None = None) -> Any:
        """Instantiate a plugin from a name, class or instance plus its prefixed options."""
        kwargs = dict(self.get_params_for(prefix) if kwargs is None else kwargs)
        if isinstance(value, str):
            cls = plugins.get(kind, value)
        elif isinstance(value, Plugin):
            cls = type(value)
            kwargs = {**value.get_params(deep=False), **kwargs}
        elif isinstance(value, type) and issubclass(value, plugins.KINDS[kind][1]):
            cls = value
        else:
            base = plugins.KINDS[kind][1].__name__
            raise TypeError(
                f"{prefix} must be a registered name, a {base} subclass or instance; got {value!r}."
            )
        accepted = cls._get_param_names()
        for name in SHARED_PARAMETERS:
            if name in accepted and name not in kwargs:
                kwargs[name] = getattr(self, name)
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise ValueError(
                f"{', '.join(prefix + '__' + key for key in unknown)}: not a parameter of "
                f"{prefix} {value!r} ({cls.__name__}); its parameters are: "
                f"{', '.join(accepted) or 'none'}."
            )
        instance = cls(**kwargs)
        instance.setup(self._fitted_spec())
        return instance

    def _build_explainer(self, value: Any, kwargs: dict[str, Any]) -> Explainer:
        if isinstance(value, str) and value == "auto":
            value = "gradient"
            if self._fitted_spec().kind in ("images", "raster_sequences"):
                with contextlib.suppress(ValueError):
                    find_layer(self.module_, kwargs.get("layer"))
                    value = "gradcam"
        return self._build_plugin("explainers", value, "explainer", kwargs)

    def set_params(self, **kwargs: Any) -> Any:
        """Set parameters; ``explainer`` and ``explainer__*`` rebuild the explainer of a fitted net."""
        explainer_params = {
            k: v for k, v in kwargs.items() if k == "explainer" or k.startswith("explainer__")
        }
        deferred = {k: v for k, v in kwargs.items() if k == "callbacks"}
        if any(k.startswith("callbacks__") for k in kwargs):
            deferred = {}  # skorch must initialise the new callbacks to set their options
        super().set_params(
            **{k: v for k, v in kwargs.items() if k not in explainer_params and k not in deferred}
        )
        for key, value in deferred.items():  # checked when the net is initialised (fit)
            setattr(self, key, value)
            if self.initialized_:
                self._initialize_callbacks()
        for key, value in explainer_params.items():
            setattr(self, key, value)
            self._params_to_validate.add(key)
        if explainer_params and self.initialized_:
            self.explainer_ = self._build_explainer(self.explainer, self.get_params_for("explainer"))
        return self

    def _fitted_spec(self) -> InputSpec:
        spec = getattr(self, "input_spec_", None)
        if spec is None:
            raise ValueError(
                f"{type(self).__name__} builds its network from the data: call fit(X, y) "
                "instead of initialize()."
            )
        return spec
