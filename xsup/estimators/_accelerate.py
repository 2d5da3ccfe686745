"""Training through Hugging Face Accelerate (GPUs, mixed precision) with the explanation term."""

from __future__ import annotations

from typing import Any

import torch

from xsup.estimators._base import ExplanationSupervisedNet

try:
    from skorch.hf import AccelerateMixin
except ImportError as error:  # pragma: no cover - skorch always ships skorch.hf
    raise ImportError("xsup's Accelerate support needs skorch>=0.12 (skorch.hf).") from error

__all__ = ["ExplanationAccelerateMixin"]


def _discard(*args: Any, **kwargs: Any) -> None:
    """Epoch-log sink of the processes other than the main one."""


class ExplanationAccelerateMixin(AccelerateMixin):
    """skorch's ``AccelerateMixin`` whose training step keeps the explanation term.

    skorch's :class:`skorch.hf.AccelerateMixin` replaces ``train_step_single``
    with a plain forward and prediction loss: combined naively with an
    explanation-supervised estimator the explanation term would never be
    computed. Put this mixin first instead::

        class AcceleratedClassifier(ExplanationAccelerateMixin, ExplanationSupervisedClassifier):
            pass

    and pass ``accelerator=accelerate.Accelerator(...)``. Each training step
    runs the estimator's own step (input gradients, saliency maps with
    ``torch.autograd.grad(..., create_graph=True)`` out of place, the
    explanation and reconstruction terms, logged as ``train_explanation``)
    under ``accelerator.autocast()``, then calls ``accelerator.backward(loss)``
    outside it, so that gradient accumulation, loss scaling and distributed
    data parallel training apply to the whole loss. The validation step, the
    history, ``predict`` and ``explain`` are the estimator's.

    Mixed precision: ``bf16`` works (it has float32's range, so the inner
    input gradients neither underflow nor overflow). ``fp16`` is refused for
    losses that train through a gradient (every loss except ``"none"``):
    Accelerate scales only the outer loss, so the inner
    ``autograd.grad`` that builds the saliency map runs unscaled in half
    precision, where small gradients flush to zero and the explanation term
    silently vanishes. Use ``mixed_precision="bf16"`` or full precision.

    On CUDA, cuDNN's recurrent layers have no double backward; the estimator
    switches cuDNN off around the explained pass of any backbone with a
    recurrent layer, whatever placed the model on the GPU.

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        Mixed precision, device placement and processes.
    device : str or None, default=None
        Leave None: Accelerate places the model and the batches.
    unwrap_after_train : bool, default=True
        Unwrap the module after ``fit`` (needed to pickle the estimator).
    **kwargs
        The estimator's parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from accelerate import Accelerator
    >>> from xsup import ExplanationAccelerateMixin, ExplanationSupervisedClassifier
    >>> class AcceleratedClassifier(ExplanationAccelerateMixin, ExplanationSupervisedClassifier):
    ...     pass
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(32, 6)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> E = np.zeros_like(X); E[:, 0] = 1
    >>> clf = AcceleratedClassifier(loss="rrr", accelerator=Accelerator(cpu=True),
    ...                             max_epochs=2, verbose=0, random_state=0).fit(X, y, E)
    >>> "train_explanation" in clf.history[-1]
    True
    """

    def _initialize_callbacks(self) -> Any:
        """Print the epoch log from the main process only, honouring ``verbose``."""
        if isinstance(self.callbacks__print_log__sink, str):
            main = getattr(self.accelerator, "is_main_process", True)
            self.callbacks__print_log__sink = print if main else _discard
        return super()._initialize_callbacks()

    def _initialize_accelerator(self) -> Any:
        """Refuse fp16 for gradient-based losses, then prepare the components."""
        loss = getattr(self, "loss_", None)
        uses_gradient = loss is not None and (
            loss.requires_saliency or loss.requires_input_gradient
        )
        if uses_gradient and getattr(self.accelerator, "mixed_precision", "no") == "fp16":
            raise ValueError(
                f"accelerator has mixed_precision='fp16', but loss={self.loss!r} trains through "
                "an input gradient that fp16 loss scaling does not reach (it underflows to zero); "
                "use Accelerator(mixed_precision='bf16') or full precision."
            )
        return super()._initialize_accelerator()

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict[str, torch.Tensor]:
        """The estimator's step under ``accelerator.autocast()``, then ``accelerator.backward``."""
        if not isinstance(self, ExplanationSupervisedNet):
            raise TypeError(
                "ExplanationAccelerateMixin must be combined with ExplanationSupervisedClassifier "
                f"or ExplanationSupervisedRegressor; got {type(self).__name__}."
            )
        self._set_training(True)
        with self.accelerator.autocast():
            step = self._batch_losses(batch, training=True)
        self.accelerator.backward(step["loss"])
        return step
