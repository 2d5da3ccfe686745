"""Building the backbone and the plugins of an explanation-supervised net from their names."""

from __future__ import annotations

import contextlib
from typing import Any

from xsup import plugins
from xsup.base import Backbone, Explainer
from xsup.estimators._parameters import AUTO_MODULE
from xsup.explainers.gradcam import find_layer
from xsup.objective import ExplanationScale
from xsup.spec import InputSpec


class PluginComponentsMixin:
    """skorch ``initialize_*`` hooks that resolve ``module``, ``loss``, ``explainer`` and
    ``interpolator`` (names, classes or instances) with their prefixed options.

    Every plugin goes through :func:`xsup.plugins.resolve`, which checks the
    options against the plugin's declared constraints, hands it the shared
    estimator parameters it takes (``sigma1``, ``sigma2``, ``alpha``, ``k``,
    ``random_state``) and calls its ``setup``. Mixed into
    :class:`~xsup.estimators._base.ExplanationSupervisedNet` before skorch's
    ``NeuralNet``, whose methods ``super()`` reaches.
    """

    def initialize_module(self) -> Any:
        """Build the backbone for the data seen by ``fit`` (``module="auto"``, a name, a class or an instance)."""
        spec = self._fitted_spec()
        kwargs = self.get_params_for("module")
        module = self.module
        if isinstance(module, str):
            module = AUTO_MODULE[spec.kind] if module == "auto" else module
            kinds = plugins.plugin_class("modules", module).input_kinds
            if spec.kind not in kinds:
                raise ValueError(
                    f"module={module!r} takes {', '.join(kinds)} input; "
                    f"X is {spec.kind.replace('_', ' ')} with samples of shape {spec.sample_shape}."
                )
        if isinstance(module, str) or isinstance(module, type) and issubclass(module, Backbone):
            data = {"input_shape": spec.sample_shape, "n_outputs": spec.n_outputs}
            self.module_ = plugins.resolve("modules", module, kwargs, shared=data)
        else:  # a backbone instance or any other torch module, as skorch builds it
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
        spec, shared = self._fitted_spec(), self._shared_parameters()
        self.loss_ = plugins.resolve(
            "losses", self.loss, self.get_params_for("loss"), shared=shared, spec=spec
        )
        self.interpolator_ = plugins.resolve(
            "interpolators", self.interpolator, self.get_params_for("interpolator"),
            shared=shared, spec=spec,
        )
        self.explainer_ = self._build_explainer(self.explainer, self.get_params_for("explainer"))
        if self.loss_.requires_saliency and not self.explainer_.differentiable:
            raise ValueError(
                f"loss={self.loss!r} trains through the saliency map, but explainer="
                f"{self.explainer!r} is not differentiable; use 'gradcam' or 'gradient'."
            )
        self.explanation_scaler_ = ExplanationScale() if self.explanation_scale == "auto" else None
        self.plugins_checked_ = False
        return self

    def _shared_parameters(self) -> dict[str, Any]:
        """Estimator values handed to the plugins that take a parameter of the same name."""
        names = (*plugins.SHARED_PARAMETERS, "random_state")
        return {name: getattr(self, name) for name in names}

    def _build_explainer(self, value: Any, kwargs: dict[str, Any]) -> Explainer:
        """The explainer ``value`` (``"auto"``: Grad-CAM where the backbone has its layer)."""
        if isinstance(value, str) and value == "auto":
            value = "gradient"
            if self._fitted_spec().kind in ("images", "raster_sequences"):
                with contextlib.suppress(ValueError):
                    find_layer(self.module_, kwargs.get("layer"))
                    value = "gradcam"
        return plugins.resolve(
            "explainers", value, kwargs, shared=self._shared_parameters(), spec=self._fitted_spec()
        )

    def set_params(self, **kwargs: Any) -> Any:
        """Set parameters; ``explainer`` and ``explainer__*`` rebuild the explainer of a fitted net.

        skorch re-initialises the torch components a parameter belongs to; the
        explainer is not one, so its parameters are set here.
        """
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
            if self.initialized_ and value == "disable":
                self.callbacks_ = []
            elif self.initialized_:
                self.initialize_callbacks()
        for key, value in explainer_params.items():
            setattr(self, key, value)
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
