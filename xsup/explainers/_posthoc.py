"""Shared parts of the post-hoc explainers: Captum import, seeding, targets, baselines, E's shape.

Post-hoc explainers run Captum's attribution methods (or, for the random
control, a random number generator) on a fitted model. They all validate their
options when ``explain`` is called, seed every random draw from one
``random_state``, accept the same ``baseline`` values and reduce an attribution
shaped like ``X`` to a map shaped like ``E``.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from abc import abstractmethod
from collections.abc import Iterator
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn

from xsup.base import Explainer
from xsup.constraints import InstanceOf, Interval, Options, RandomStateLike
from xsup.explainers.gradient import CHANNEL_AXIS
from xsup.spec import InputSpec

#: Named baselines every explainer with a ``baseline`` option accepts.
BASELINE_NAMES = ("zeros", "uniform")
INSTALL_HINT = 'pip install "xsup[explain]"'

#: Declarations shared by the post-hoc explainers' ``parameter_constraints``.
BASELINE = [Options(*BASELINE_NAMES), Interval("real", None, None),
            InstanceOf(np.ndarray, torch.Tensor, list, tuple, description="an array-like")]
POSITIVE_INT = [Interval("int", 1, None)]
BATCH_SIZE = [None, Interval("int", 1, None)]
NON_NEGATIVE = [Interval("real", 0, None)]
FEATURE_MASK = [Options("auto"), None, InstanceOf(np.ndarray, torch.Tensor, list, tuple,
                                                 description="integer labels shaped like a sample")]
RANDOM_STATE = [RandomStateLike()]


def import_captum() -> ModuleType:
    """Import ``captum.attr``, or raise an ``ImportError`` that says how to install it."""
    try:
        import captum.attr
    except ImportError as exc:
        raise ImportError(
            f"The post-hoc explainers need Captum, which is not installed: {INSTALL_HINT}"
        ) from exc
    return captum.attr


def check_target(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """The target as Captum takes it: one output column per sample (None for a 1-D output)."""
    if output.dim() == 1:
        return None
    target = torch.as_tensor(target, device=output.device)
    n_samples, n_columns = output.shape[0], output.shape[1]
    if (target.dim() != 1 or len(target) != n_samples or target.dtype.is_floating_point
            or target.dtype == torch.bool):
        raise ValueError(
            f"target must hold one integer output column per sample, shape ({n_samples},); "
            f"got dtype {target.dtype} and shape {tuple(target.shape)}."
        )
    if len(target) and (int(target.min()) < 0 or int(target.max()) >= n_columns):
        raise ValueError(
            f"target must be output columns in [0, {n_columns - 1}]; got values from "
            f"{int(target.min())} to {int(target.max())}."
        )
    return target.long()


def to_annotation_shape(attribution: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """``|attribution|``, summed over the channel axis of images and raster sequences."""
    saliency = attribution.detach().abs()
    if spec.kind in CHANNEL_AXIS:
        saliency = saliency.sum(dim=CHANNEL_AXIS[spec.kind])
    return saliency


@contextlib.contextmanager
def seeded(random_state: Any, device: torch.device) -> Iterator[torch.Generator]:
    """Seed every random draw inside the block from ``random_state``.

    Yields a CPU generator for our own draws and, for Captum's internal draws,
    seeds torch's and NumPy's global generators from the same seed, restoring
    both afterwards. ``random_state`` is an int (the same draws on every call),
    a ``numpy.random.RandomState`` (advanced by each call) or None (NumPy's
    global generator picks the seed).
    """
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    devices = [device] if device.type == "cuda" else []
    numpy_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=devices):
            torch.random.default_generator.manual_seed(seed)
            if devices:
                with torch.cuda.device(device):
                    torch.cuda.manual_seed(seed)
            np.random.seed(seed)
            yield torch.Generator().manual_seed(seed)
    finally:
        np.random.set_state(numpy_state)


def _constant_or_array(baseline: Any, sample_shape: tuple[int, ...], X: torch.Tensor,
                       generator: torch.Generator, count: int) -> torch.Tensor:
    """``count`` baselines ``(count, *sample_shape)``, or those of an array given as ``(k, *sample)``."""
    if isinstance(baseline, str):
        if baseline == "zeros":
            return X.new_zeros((count, *sample_shape))
        return torch.rand((count, *sample_shape), generator=generator).to(X)
    if isinstance(baseline, numbers.Real) and not isinstance(baseline, bool):
        return X.new_full((count, *sample_shape), float(baseline))
    try:
        values = torch.as_tensor(np.asarray(baseline) if not torch.is_tensor(baseline) else baseline)
    except (TypeError, ValueError, RuntimeError):
        values = None
    if values is None or values.dtype == torch.bool or not (
        values.is_floating_point() or values.dtype in (torch.int32, torch.int64)
    ):
        raise ValueError(
            f"explainer__baseline must be one of {BASELINE_NAMES}, a number, or an array shaped "
            f"like one sample {sample_shape}; got {type(baseline).__name__}."
        )
    values = values.to(X)
    if tuple(values.shape) == sample_shape:
        return values.unsqueeze(0).expand(count, *sample_shape)
    if values.dim() == len(sample_shape) + 1 and tuple(values.shape[1:]) == sample_shape:
        return values
    raise ValueError(
        f"explainer__baseline must be shaped like one sample {sample_shape} (or, for a "
        f"distribution, (k, *{sample_shape})); got shape {tuple(values.shape)}."
    )


def make_baseline(baseline: Any, X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One reference input shared by all samples, expanded to ``X``'s shape.

    ``"zeros"``; ``"uniform"``: one U[0, 1) draw shaped like a sample; a number;
    or an array shaped like one sample.
    """
    sample_shape = tuple(X.shape[1:])
    values = _constant_or_array(baseline, sample_shape, X, generator, count=1)
    if len(values) != 1:
        raise ValueError(
            f"explainer__baseline must be shaped like one sample {sample_shape}; "
            f"got {len(values)} baselines."
        )
    return values.expand_as(X).contiguous()


def make_baseline_distribution(baseline: Any, n_baselines: int, X: torch.Tensor,
                               generator: torch.Generator) -> torch.Tensor:
    """Baselines ``(k, *sample_shape)`` that GradientShap and DeepShap draw from.

    ``"uniform"``: ``n_baselines`` independent U[0, 1) draws; ``"zeros"``, a
    number or one sample: ``n_baselines`` copies; an array ``(k, *sample)``: as
    given (k >= 2 for DeepShap).
    """
    sample_shape = tuple(X.shape[1:])
    values = _constant_or_array(baseline, sample_shape, X, generator, count=n_baselines)
    return values.contiguous()


class PosthocExplainer(Explainer):
    """An explainer run after training: ``explain`` computes the output, checks the target
    and reduces the attribution that :meth:`attribute` returns to E's shape.

    Subclasses implement :meth:`attribute`; every random draw inside it is seeded
    from the ``random_state`` parameter. They run Captum, an optional dependency.
    """

    differentiable: ClassVar[bool] = False
    requires: ClassVar[dict[str, str]] = {"captum": "xsup[explain]"}

    def explain(
        self,
        model: nn.Module,
        X: torch.Tensor,
        target: torch.Tensor,
        spec: InputSpec,
        *,
        create_graph: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the model output and ``|attribution|`` shaped like E (channels summed).

        ``create_graph`` is ignored: post-hoc maps are not trained through.
        """
        X = X.detach()
        with torch.no_grad():
            output = model(X)
        captum_target = check_target(output, target)
        with seeded(getattr(self, "random_state", None), X.device) as generator, \
                warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"(?s).*hooks and attributes will be removed")
            warnings.filterwarnings("ignore", message=r"(?s).*[Ii]nput Tensor .* did not already require")
            attribution = self.attribute(model, X, captum_target, spec, generator)
        # Captum's Occlusion and ShapleyValueSampling accumulate in float32 whatever the input.
        return output, to_annotation_shape(attribution, spec).to(X.dtype)

    @abstractmethod
    def attribute(self, model: nn.Module, X: torch.Tensor, target: torch.Tensor | None,
                  spec: InputSpec, generator: torch.Generator) -> torch.Tensor:
        """Return the (signed) attribution of ``target``, shaped like ``X``.

        ``generator`` seeds the method's own draws (baselines); Captum's
        internal draws are seeded already.
        """
