"""The per-batch training objective: ``prediction + sigma1 * explanation + sigma2 * reconstruction``.

Plain torch code, the one place where the terms are built and combined. The
estimators' training and validation steps, the Accelerate step and the
contract tests of :mod:`xsup.testing` all call :class:`ExplanationObjective`.
One call:

1. makes ``X`` require grad when the loss reads input gradients;
2. runs the training explainer (when the loss reads saliency) with
   ``create_graph`` in training, and normalises its map per sample;
3. completes the annotations of sequences through the interpolator, which
   may return a reconstruction loss (STES's learned interpolation);
4. builds the :class:`~xsup.batch.ExplanationBatch` and calls the loss;
5. adds the prediction loss (weighted per sample when ``sample_weight`` is
   given), ``sigma1`` times the explanation term (rescaled to the prediction
   loss's size with ``explanation_scale="auto"``) and ``sigma2`` times the
   reconstruction loss.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from xsup import plugins
from xsup.base import Explainer, ExplanationLoss, Interpolator
from xsup.batch import ExplanationBatch, annotated_frames
from xsup.saliency import normalize_saliency
from xsup.spec import InputSpec

__all__ = [
    "EXPLANATION_SCALES",
    "ExplanationObjective",
    "ExplanationScale",
    "ObjectiveTerms",
    "double_backward_context",
    "per_sample_loss",
]

#: Values of the estimators' ``explanation_scale`` option.
EXPLANATION_SCALES = ("none", "auto")


def double_backward_context(model: nn.Module) -> contextlib.AbstractContextManager:
    """cuDNN's recurrent layers have no double backward: switch cuDNN off around explained passes."""
    uses_rnn = any(isinstance(m, nn.RNNBase) for m in model.modules())
    # where the parameters are, not a device setting: Accelerate places the model itself
    on_cuda = any(p.device.type == "cuda" for p in model.parameters())
    if uses_rnn and on_cuda:
        return torch.backends.cudnn.flags(enabled=False)
    return contextlib.nullcontext()


def per_sample_loss(criterion: nn.Module, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The criterion's loss of each sample, ``(N,)``: a torch loss evaluated with ``reduction="none"``.

    Multi-output losses (e.g. mean squared error over several targets) are
    averaged over all but the sample axis, so that the mean of the result is
    the criterion's own ``reduction="mean"`` value.

    Raises
    ------
    TypeError
        The criterion has no ``reduction="mean"`` to switch off.

    Examples
    --------
    >>> per_sample_loss(nn.MSELoss(), torch.tensor([[1.0, 3.0], [0.0, 0.0]]), torch.zeros(2, 2))
    tensor([5., 0.])
    """
    reduction = getattr(criterion, "reduction", None)
    if reduction != "mean":
        raise TypeError(
            "sample_weight needs a criterion that averages per-sample losses (a torch loss "
            f"with reduction='mean'); got {type(criterion).__name__} with reduction={reduction!r}."
        )
    criterion.reduction = "none"
    try:
        values = criterion(output, y)
    finally:
        criterion.reduction = reduction
    return values.reshape(len(output), -1).mean(dim=1)


@dataclass
class ExplanationScale:
    """Running ratio of the prediction loss to the explanation term (``explanation_scale="auto"``).

    Both terms are followed by exponential moving averages (detached) over
    the training batches whose explanation term is not zero; the explanation
    term is multiplied by their ratio, so that ``sigma1 = 1`` weighs it like
    the prediction loss, whatever the loss's own units and the input's size.

    Parameters
    ----------
    momentum : float, default=0.9
        Weight of the past in each average.
    state : tuple of float or None, default=None
        The two averages (prediction, explanation) to continue from; None
        before the first batch.

    Examples
    --------
    >>> scale = ExplanationScale()
    >>> scale.update(0.6, 0.002), scale.value
    (300.0, 300.0)
    """

    momentum: float = 0.9
    state: tuple[float, float] | None = field(default=None)

    @property
    def value(self) -> float:
        """The current factor (1 before any batch)."""
        return 1.0 if self.state is None else self.state[0] / self.state[1]

    def update(self, prediction: float, explanation: float) -> float:
        """Fold one training batch's terms into the averages; returns the new factor."""
        if explanation > 0 and prediction == prediction:  # skip empty and NaN batches
            if self.state is None:
                self.state = (prediction, explanation)
            else:
                m = self.momentum
                self.state = (m * self.state[0] + (1 - m) * prediction,
                              m * self.state[1] + (1 - m) * explanation)
        return self.value


@dataclass(frozen=True)
class ObjectiveTerms:
    """The terms of one batch.

    Attributes
    ----------
    total : torch.Tensor
        What the optimiser minimises.
    prediction, explanation : torch.Tensor
        The prediction loss and the (unweighted) explanation term.
    reconstruction : torch.Tensor or None
        The interpolator's reconstruction loss, when it has one.
    output : torch.Tensor
        The model's output.
    scale : float
        Factor applied to the explanation term besides ``sigma1`` (1 unless
        ``explanation_scale="auto"``).
    """

    total: torch.Tensor
    prediction: torch.Tensor
    explanation: torch.Tensor
    reconstruction: torch.Tensor | None
    output: torch.Tensor
    scale: float = 1.0

    def non_finite_term(self) -> str | None:
        """The name of the first term that is NaN or infinite, or None."""
        for name in ("prediction", "explanation", "reconstruction"):
            value = getattr(self, name)
            if value is not None and not bool(torch.isfinite(value.detach()).all()):
                return name
        return None


@dataclass
class ExplanationObjective:
    """The objective of one batch, from the model and set-up plugins.

    Parameters
    ----------
    model : torch.nn.Module
        The backbone.
    criterion : torch.nn.Module
        The prediction loss, e.g. ``torch.nn.CrossEntropyLoss()``.
    loss : ExplanationLoss
        The explanation loss, set up.
    explainer : Explainer
        The training explainer (run only when the loss reads saliency).
    interpolator : Interpolator
        Completes the missing annotation frames of sequences.
    spec : InputSpec
        Shape and task of the data.
    sigma1, sigma2 : float, default=1.0
        Weights of the explanation and reconstruction terms.
    scale : ExplanationScale or None, default=None
        Running rescaling of the explanation term; None keeps its raw scale.
    check_plugins : bool, default=False
        Check the plugins' outputs (done on an estimator's first training
        batch): the explainer's map has the annotations' shape and, when it
        declares ``differentiable``, a gradient path to the model's
        parameters; the loss returns a finite scalar tensor and, with sample
        weights, reduces through :meth:`ExplanationBatch.reduce`. Errors name
        the plugin and its distribution.

    Examples
    --------
    >>> from xsup.explainers import InputGradient
    >>> from xsup.interpolators import NoInterpolation
    >>> from xsup.losses import RRRLoss
    >>> spec = InputSpec("tabular", (3,), 2)
    >>> model = nn.Linear(3, 2)
    >>> objective = ExplanationObjective(model, nn.CrossEntropyLoss(), RRRLoss(), InputGradient(),
    ...                                  NoInterpolation(), spec, sigma1=10.0)
    >>> X, y = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    >>> E = torch.tensor([[1.0, 0.0, -1.0]]).repeat(4, 1)
    >>> terms = objective(X, y, y, E, training=True)
    >>> torch.allclose(terms.total, terms.prediction + 10.0 * terms.explanation)
    True
    """

    model: nn.Module
    criterion: nn.Module
    loss: ExplanationLoss
    explainer: Explainer
    interpolator: Interpolator
    spec: InputSpec
    sigma1: float = 1.0
    sigma2: float = 1.0
    scale: ExplanationScale | None = None
    check_plugins: bool = False

    def batch(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        target: torch.Tensor,
        annotation: torch.Tensor | None = None,
        *,
        training: bool,
        sample_weight: torch.Tensor | None = None,
    ) -> tuple[ExplanationBatch, torch.Tensor | None]:
        """The :class:`ExplanationBatch` the loss sees, and the reconstruction loss (or None).

        Runs under the caller's gradient mode; :meth:`__call__` enables
        gradients where the loss needs them.
        """
        if self.loss.requires_input_gradient:
            X = X.detach().requires_grad_(True)
        saliency = None
        if self.loss.requires_saliency:
            output, raw = self.explainer.explain(self.model, X, target, self.spec,
                                                 create_graph=training)
            if self.check_plugins:
                self._check_map(raw, len(X), training)
            saliency = normalize_saliency(raw)
        else:
            output = self.model(X)
        reconstruction = None
        if self.loss.requires_annotation and annotation is not None and self.spec.is_sequence:
            missing = ~annotated_frames(annotation, self.spec)
            annotation, reconstruction = self.interpolator(annotation, missing)
        batch = ExplanationBatch(
            model=self.model, X=X, y=y, output=output, target=target, spec=self.spec,
            annotation=annotation, create_graph=training, saliency=saliency,
            sample_weight=sample_weight,
        )
        return batch, reconstruction

    def __call__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        target: torch.Tensor,
        annotation: torch.Tensor | None = None,
        *,
        training: bool,
        sample_weight: torch.Tensor | None = None,
    ) -> ObjectiveTerms:
        """All terms of one batch; gradients are enabled as far as the loss needs them.

        Parameters
        ----------
        X : torch.Tensor
            Inputs, ``(N, *spec.sample_shape)``.
        y : torch.Tensor
            Targets as the criterion takes them.
        target : torch.Tensor
            Output column explained per sample, ``(N,)``.
        annotation : torch.Tensor or None
            ``E`` of the batch (NaN missing).
        training : bool
            Keep the graph through the explanation (``create_graph``) and
            update the running explanation scale.
        sample_weight : torch.Tensor or None
            ``(N,)`` weights of the prediction and explanation terms.
        """
        needs_graph = self.loss.requires_saliency or self.loss.requires_input_gradient
        with torch.set_grad_enabled(training or needs_graph), double_backward_context(self.model):
            batch, reconstruction = self.batch(X, y, target, annotation, training=training,
                                               sample_weight=sample_weight)
            prediction = self._prediction(batch.output, y, sample_weight)
            explanation = self.loss(batch)
            if self.check_plugins:
                self._check_loss_value(explanation, batch)
            factor = 1.0
            if self.scale is not None:
                factor = (self.scale.update(float(prediction.detach()), float(explanation.detach()))
                          if training else self.scale.value)
            total = prediction + (self.sigma1 * factor) * explanation
            if reconstruction is not None:
                total = total + self.sigma2 * reconstruction
        return ObjectiveTerms(total, prediction, explanation, reconstruction, batch.output, factor)

    def _prediction(
        self, output: torch.Tensor, y: torch.Tensor, sample_weight: torch.Tensor | None
    ) -> torch.Tensor:
        if sample_weight is None:
            return self.criterion(output, y)
        values = per_sample_loss(self.criterion, output, y)
        weight = sample_weight.to(values.dtype)
        total = weight.sum()
        if not bool(total > 0):
            return values.sum() * 0.0
        return (weight * values).sum() / total

    def _check_map(self, raw: Any, n_samples: int, training: bool) -> None:
        name = f"explainer {plugins.describe(self.explainer)}"
        expected = (n_samples, *self.spec.annotation_shape)
        if not isinstance(raw, torch.Tensor) or tuple(raw.shape) != expected:
            got = tuple(raw.shape) if isinstance(raw, torch.Tensor) else type(raw).__name__
            raise TypeError(f"{name} returned a saliency map of shape {got}; expected {expected}.")
        if not (training and self.explainer.differentiable):
            return
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        reached = raw.requires_grad and any(
            g is not None for g in torch.autograd.grad(
                raw.sum(), parameters, allow_unused=True, retain_graph=True)
        )
        if not reached:
            raise TypeError(
                f"{name} declares differentiable = True, but its map has no gradient path to "
                "the model's parameters with create_graph=True (was it detached?); training "
                "through it would leave the explanation term without effect."
            )

    def _check_loss_value(self, value: Any, batch: ExplanationBatch) -> None:
        name = f"loss {plugins.describe(self.loss)}"
        if not isinstance(value, torch.Tensor) or value.dim() != 0:
            got = f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
            raise TypeError(f"{name} returned {got}; an explanation loss must return a scalar tensor.")
        if not value.dtype.is_floating_point or not bool(torch.isfinite(value.detach())):
            raise ValueError(
                f"{name} returned {value.detach().item()!r} ({value.dtype}) on the first batch; "
                "an explanation loss must return a finite floating-point scalar."
            )
        if batch.sample_weight is not None and not batch.reduced:
            raise TypeError(
                f"{name} does not reduce its per-sample terms through ExplanationBatch.reduce, so "
                "it cannot weight samples: fit without sample_weight, or update the plugin."
            )
