"""One small base class per plugin kind.

Every plugin derives from :class:`sklearn.base.BaseEstimator`, so its
``__init__`` keyword arguments are its hyperparameters (``get_params``,
``clone`` and ``repr`` come for free), declares what each of them accepts
(``parameter_constraints``) and a default Optuna search space for them.
Plugins with learnable parts (losses, interpolators, backbones) are also
:class:`torch.nn.Module` s: the estimator hands their parameters to the
optimizer, moves them to the device and saves them with the model.

Lifecycle of a plugin inside an estimator (the same for every kind):

1. **Validate and construct**, once per fit: :func:`xsup.plugins.resolve`
   checks the options against ``parameter_constraints`` (an unknown or
   refused option raises before anything is built), then calls
   ``__init__``, which only stores its arguments.
2. **Set up**, once per fit: ``setup(spec)`` receives the
   :class:`~xsup.spec.InputSpec` of the training data; it checks what
   depends on the data (and raises ``ValueError`` for an input kind it does
   not take) and builds learnable parts. Attributes it sets end in ``_``.
3. **Per batch**: losses ``forward(batch)``, explainers ``explain(...)``,
   interpolators ``forward(annotation, missing)``, backbones ``forward(X)``.
   The estimator checks, on its first training batch, that a loss returns a
   finite scalar and that a differentiable explainer's map has a gradient
   path to the model's parameters.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from sklearn.base import BaseEstimator
from torch import nn

from xsup.spec import InputKind, InputSpec

if TYPE_CHECKING:
    from xsup.batch import ExplanationBatch

__all__ = ["Backbone", "ExplanationLoss", "Explainer", "Interpolator", "Plugin"]


class Plugin(BaseEstimator, metaclass=ABCMeta):
    """Behaviour shared by every plugin kind.

    Subclasses store each ``__init__`` argument under its own name, as
    scikit-learn estimators do, and build anything that depends on the data in
    :meth:`setup`.

    Attributes
    ----------
    parameter_constraints : dict
        ``__init__`` parameter name to a list of :mod:`xsup.constraints`
        constraints (or None), any of which admits a value; checked by
        :func:`xsup.plugins.resolve` before the plugin is built. Every
        parameter should be declared: the contract tests try invalid values.
    requires : dict
        Optional modules the plugin imports when it runs, mapped to the pip
        requirement that installs them (``{"captum": "xsup[explain]"}``); a
        plugin whose module is missing is listed as unavailable, not usable.
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {}
    requires: ClassVar[dict[str, str]] = {}

    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """Default Optuna distributions for this plugin's hyperparameters.

        Keys are either the plugin's own ``__init__`` parameters (the estimator
        exposes them with the plugin's prefix, e.g. ``loss__gamma``) or the
        shared estimator parameters ``sigma1``, ``sigma2``, ``alpha`` and ``k``
        that this plugin uses. Values are
        ``optuna.distributions.BaseDistribution`` instances.

        Returns
        -------
        dict
            Parameter name to distribution; empty when nothing is worth tuning.
        """
        return {}

    def setup(self, spec: InputSpec) -> None:
        """Build the parts that depend on the data (called once per fit).

        Parameters
        ----------
        spec : InputSpec
            Shape and task of the data the estimator is fitted on.
        """


class ExplanationLoss(Plugin, nn.Module):
    """An explanation term added to the prediction loss, weighted by ``sigma1``.

    Subclasses implement :meth:`forward`, which receives an
    :class:`~xsup.batch.ExplanationBatch` and returns a scalar tensor.

    Attributes
    ----------
    requires_annotation : bool
        Whether the loss needs annotations ``E`` (``fit`` without ``E`` then
        raises a ``ValueError``).
    requires_saliency : bool
        Whether the loss reads ``batch.saliency``, the training explainer's
        normalised map; when False the explainer is not run at all.
    requires_input_gradient : bool
        Whether the loss differentiates the output with respect to the input
        (``batch.input_gradient``); the input then requires grad.
    """

    requires_annotation: ClassVar[bool] = True
    requires_saliency: ClassVar[bool] = True
    requires_input_gradient: ClassVar[bool] = False

    def __init__(self) -> None:
        nn.Module.__init__(self)

    @abstractmethod
    def forward(self, batch: ExplanationBatch) -> torch.Tensor:
        """Return the (unweighted) explanation term of one batch as a scalar."""


class Explainer(Plugin):
    """Computes saliency maps shaped like the annotations.

    Attributes
    ----------
    differentiable : bool
        Whether the map can be trained through (``create_graph=True`` keeps the
        graph to the model's parameters). Only differentiable explainers can be
        used for training.
    min_batch_size : int
        Fewest samples a batch passed to ``explain`` must hold (2 for methods
        that compare the samples of a batch, such as feature permutation);
        the estimators' ``explain`` joins a shorter last batch to the one
        before it.
    """

    differentiable: ClassVar[bool] = False
    min_batch_size: ClassVar[int] = 1

    @abstractmethod
    def explain(
        self,
        model: nn.Module,
        X: torch.Tensor,
        target: torch.Tensor,
        spec: InputSpec,
        *,
        create_graph: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the model and explain its output.

        Parameters
        ----------
        model : torch.nn.Module
            The fitted backbone.
        X : torch.Tensor
            A batch of inputs, shaped ``(N, *spec.sample_shape)``.
        target : torch.Tensor
            Output column to explain, one per sample, shape ``(N,)``.
        spec : InputSpec
            Shape of the data.
        create_graph : bool, default=False
            Keep the graph so that the map can be differentiated again.

        Returns
        -------
        output : torch.Tensor
            The model output for ``X``.
        saliency : torch.Tensor
            Non-negative map, shape ``(N, *spec.annotation_shape)``; not normalised.
        """


class Interpolator(Plugin, nn.Module):
    """Fills missing annotation frames of sequences.

    Subclasses implement :meth:`forward`. An interpolator with learnable parts
    returns its own reconstruction loss, which the estimator weights by ``sigma2``.
    """

    def __init__(self) -> None:
        nn.Module.__init__(self)

    @abstractmethod
    def forward(
        self, annotation: torch.Tensor, missing: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Fill missing frames.

        Parameters
        ----------
        annotation : torch.Tensor
            Annotations of a batch of sequences, ``(N, T, ...)``; NaN marks
            unannotated cells.
        missing : torch.Tensor
            Boolean ``(N, T)``: frames to fill.

        Returns
        -------
        filled : torch.Tensor
            Same shape as ``annotation``; filled frames hold soft values in [0, 1].
        reconstruction : torch.Tensor or None
            Reconstruction loss on the annotated frames, or None.
        """


class Backbone(Plugin, nn.Module):
    """A network that maps a batch ``X`` to ``(N, n_outputs)`` outputs.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample of ``X``.
    n_outputs : int
        Number of outputs (classes, or regression targets).

    Attributes
    ----------
    input_kinds : tuple of str
        The input kinds this backbone accepts.
    gradcam_layer : str or None
        Dotted name of the default Grad-CAM layer, or None when the network
        has no convolution. For raster sequences the layer's output holds the
        frames sample-major: row ``n * T + t``.
    """

    input_kinds: ClassVar[tuple[InputKind, ...]] = ()
    gradcam_layer: ClassVar[str | None] = None

    def __init__(self, input_shape: tuple[int, ...], n_outputs: int) -> None:
        nn.Module.__init__(self)
        self.input_shape = input_shape
        self.n_outputs = n_outputs
