"""What every parameter of an explanation-supervised estimator accepts, and the check made before training."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from xsup import plugins
from xsup.base import Explainer, ExplanationLoss, Interpolator
from xsup.constraints import (
    Device,
    InstanceOf,
    Interval,
    InvalidParameterError,
    Options,
    RandomStateLike,
    SubclassOf,
    validate_parameters,
)
from xsup.objective import EXPLANATION_SCALES

#: Backbone chosen by ``module="auto"`` for each input kind.
AUTO_MODULE = {
    "tabular": "mlp",
    "time_series": "tcn",
    "images": "cnn",
    "raster_sequences": "cnn_gru",
}


def _plugin(base: type, names: str) -> list[Any]:
    return [InstanceOf(str, description=names), SubclassOf(base, instances=True)]


class ParameterChecksMixin:
    """The estimators' declared constraints and :meth:`check_parameters`."""

    #: What each parameter accepts (plugin options: each plugin's own declaration).
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "module": _plugin(nn.Module, "'auto' or a registered backbone name"),
        "loss": _plugin(ExplanationLoss, "a registered name"),
        "explainer": _plugin(Explainer, "'auto' or a registered name"),
        "interpolator": _plugin(Interpolator, "a registered name"),
        "sigma1": [Interval("real", 0, None)],
        "sigma2": [Interval("real", 0, None)],
        "alpha": [Interval("real", 0, None)],
        "k": [Interval("real", 0, 1, description="a fraction in [0, 1]")],
        "explanation_scale": [Options(*EXPLANATION_SCALES)],
        "random_state": [RandomStateLike()],
        "criterion": [SubclassOf(nn.Module, instances=True)],
        "optimizer": [SubclassOf(torch.optim.Optimizer)],
        "lr": [Interval("real", 0, None, closed="neither")],
        "max_epochs": [Interval("int", 0, None)],
        "batch_size": [Interval("int", 1, None, python_int=True),
                       Options(-1, description="-1 (the whole data set)")],
        "train_split": [None, InstanceOf(Callable, description="a callable (skorch's ValidSplit)")],
        "callbacks": [None, Options("disable"), InstanceOf(list, tuple)],
        "predict_nonlinearity": [Options("auto"), None, InstanceOf(Callable, description="a callable")],
        "warm_start": [InstanceOf(bool)],
        "compile": [InstanceOf(bool)],
        "verbose": [Interval("int", 0, None), InstanceOf(bool)],
        "device": [Device(), None],
    }

    def check_parameters(self, input_kind: str | None = None) -> None:
        """Check every parameter before any data is read; ``fit`` starts with the same check.

        Checks the estimator's own parameters against
        :attr:`parameter_constraints`, each plugin's prefixed options (names
        and values, against the plugin's declaration), and the optimizer's and
        criterion's options (by building them once on a placeholder).

        Parameters
        ----------
        input_kind : str or None, default=None
            The kind of the data to come (``"images"``...), which resolves
            ``module="auto"`` so that its ``module__*`` options are checked too.

        Raises
        ------
        xsup.constraints.InvalidParameterError
            A value a declaration refuses, or options the optimizer or the
            criterion refuse.
        ValueError, TypeError
            An unknown plugin, or an option the plugin does not take.

        Examples
        --------
        >>> from xsup import ExplanationSupervisedClassifier
        >>> ExplanationSupervisedClassifier(module__hiden=3).check_parameters("tabular")
        Traceback (most recent call last):
        ...
        ValueError: module__hiden: not a parameter of module 'mlp' (MLP); its parameters are: dropout, hidden, input_shape, n_outputs.
        """
        validate_parameters(self.get_params(deep=False), self.parameter_constraints)
        self._check_compile()
        for kind, spec in plugins.KINDS.items():
            value = getattr(self, spec.prefix)
            if kind == "modules" and value == "auto" and input_kind is not None:
                value = AUTO_MODULE[input_kind]
            if isinstance(value, str) and value == "auto":
                continue  # resolved from the data (and, for the explainer, the model)
            if kind == "modules" and not _is_backbone(value):
                continue  # a plain torch module, built by skorch
            plugins.configure(kind, value, self.get_params_for(spec.prefix))
        self._check_buildable("optimizer", lambda options: self.optimizer(
            [nn.Parameter(torch.zeros(1))], lr=self.lr, **options))
        if isinstance(self.criterion, type):
            self._check_buildable("criterion", lambda options: self.criterion(**options))

    def _check_compile(self) -> None:
        """Refuse ``compile=True`` with a loss that differentiates through an explanation."""
        loss = plugins.plugin_class("losses", self.loss)
        if self.compile and (loss.requires_saliency or loss.requires_input_gradient):
            raise InvalidParameterError(
                f"compile=True cannot train with loss={self.loss!r}: the explanation term needs a "
                "double backward, which torch.compile does not support; pass compile=False "
                "(compile=True speeds up loss='none' training and prediction)."
            )

    def _check_buildable(self, prefix: str, build: Callable[[dict[str, Any]], Any]) -> None:
        options = self.get_params_for(prefix)
        try:
            build(options)
        except (TypeError, ValueError) as error:
            given = ", ".join(f"{prefix}__{key}={value!r}" for key, value in options.items())
            cls = getattr(self, prefix)
            raise InvalidParameterError(
                f"{prefix}={getattr(cls, '__name__', cls)!r} refuses "
                f"{given or 'its default options'}: {error}"
            ) from None


def _is_backbone(value: Any) -> bool:
    return isinstance(value, str) or isinstance(value, plugins.KINDS["modules"].base) or (
        isinstance(value, type) and issubclass(value, plugins.KINDS["modules"].base)
    )
