"""Temporal Saliency Rescaling (Ismail et al., 2020, Algorithm 1) on top of any explainer, batched."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from xsup import plugins
from xsup.base import Explainer
from xsup.constraints import InstanceOf, Interval, Options, SubclassOf
from xsup.spec import InputSpec

__all__ = ["TemporalSaliencyRescaling", "minmax_rescale"]

#: ``feature`` code of a job that explains the unmasked input.
ORIGINAL = -2
#: ``feature`` code of a job that masks every feature of its time step.
WHOLE_STEP = -1
THRESHOLD_MODES = ("quantile", "absolute")
SEQUENCE_KINDS = ("time_series", "raster_sequences")


def minmax_rescale(values: torch.Tensor) -> torch.Tensor:
    """Min-max rescale each row of ``values`` (last axis) to [0, 1].

    A constant row becomes all ones if its value is positive and all zeros
    otherwise (every entry is then equally relevant, or none is).

    Examples
    --------
    >>> minmax_rescale(torch.tensor([[1.0, 3.0, 2.0], [2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]))
    tensor([[0.0000, 1.0000, 0.5000],
            [1.0000, 1.0000, 1.0000],
            [0.0000, 0.0000, 0.0000]])
    """
    low = values.amin(dim=-1, keepdim=True)
    span = values.amax(dim=-1, keepdim=True) - low
    constant = (values > 0).to(values.dtype)
    return torch.where(span > 0, (values - low) / torch.where(span > 0, span, 1.0), constant)


class TemporalSaliencyRescaling(Explainer):
    """Temporal Saliency Rescaling (TSR) of any other explainer's maps.

    Ismail, Gunady, Corrada Bravo and Feizi, *Benchmarking Deep Learning
    Interpretability in Time Series Predictions*, NeurIPS 2020, Algorithm 1.
    With ``R`` the base explainer's map and ``X̄`` a masked copy of ``X``:

    1. time relevance ``Δ_t = Σ |R(X) - R(X̄)|`` with every feature of step
       ``t`` masked, min-max rescaled over the sample's steps to [0, 1];
    2. for each step with ``Δ_t`` above the threshold, feature relevance
       ``δ_{t,i} = Σ |R(X) - R(X̄)|`` with only feature ``i`` of step ``t``
       masked; other steps get ``below_threshold_score``;
    3. ``R_TSR[t, i] = Δ_t · δ_{t,i}``.

    Time series ``(N, T, F)`` have ``F`` features per step; raster sequences
    ``(N, T, C, H, W)`` have ``H·W`` features per frame (a pixel, all of its
    channels masked together), and the maps are ``(N, T, H, W)``. Tabular data
    and images have no time axis and are declined with a ``ValueError``.

    All masked copies of a batch are explained in as few calls to the base
    explainer as ``chunk_size`` allows: ``ceil(N·(T + 1) / chunk_size)`` calls
    for step 1 (the unmasked inputs included) and ``ceil(K·F / chunk_size)``
    for step 2 (``K`` steps above the threshold in the batch). This gives the
    per-sample, per-step loop's result whenever the base explainer treats the
    samples of a batch independently (in evaluation mode, every built-in
    deterministic explainer does).

    Parameters
    ----------
    base : str, Explainer subclass or Explainer instance, default="gradient"
        The explainer ``R`` that is rescaled: a registered name (see
        ``xsup.plugins.available("explainers")``), a class built with its
        defaults, or an instance (its options are then reachable as
        ``base__<option>`` through ``get_params``/``set_params``).
    threshold : float, default=0.55
        The paper's ``α``, in [0, 1]: a step gets feature relevance when its
        rescaled time relevance is strictly above it (``"absolute"``) or
        strictly above this quantile of the sample's rescaled time relevances
        (``"quantile"``, linear interpolation).
    threshold_mode : {"quantile", "absolute"}, default="quantile"
        How ``threshold`` is read. The default 0.55 quantile is the authors'
        code's choice: the paper leaves ``α`` open.
    mask_value : float or "first", default=0.0
        Value written into masked cells: a number (the paper masks with 0), or
        "first" for each sample's first input element ``X[n].flatten()[0]``
        (what the authors' code does).
    below_threshold_score : float, default=0.0
        Feature relevance of every feature of a step not above the threshold;
        the paper's Algorithm 1 uses 0, the authors' code 0.1.
    normalize_features : bool, default=False
        Min-max rescale each step's feature relevances to [0, 1] (the
        authors' code); the paper multiplies the raw scores.
    chunk_size : int, default=512
        Most masked inputs explained in one call to the base explainer; lower
        it to save memory, raise it for speed.

    Notes
    -----
    ``threshold="quantile"`` with ``threshold=0.55``, ``mask_value="first"``,
    ``below_threshold_score=0.1`` and ``normalize_features=True`` reproduce
    the authors' code. TSR costs ``T + K_n·F`` extra explanations per sample;
    it is not differentiable (``create_graph`` is ignored).

    Examples
    --------
    >>> import torch
    >>> from xsup.spec import InputSpec
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 2)).eval()
    >>> tsr = TemporalSaliencyRescaling(base="gradient", threshold=0.5, threshold_mode="absolute")
    >>> output, maps = tsr.explain(
    ...     model, torch.randn(4, 3, 2), torch.zeros(4, dtype=torch.long),
    ...     InputSpec("time_series", (3, 2), 2))
    >>> tuple(maps.shape), bool((maps >= 0).all())
    ((4, 3, 2), True)
    """

    differentiable: ClassVar[bool] = False
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "base": [InstanceOf(str, description="a registered explainer name"),
                 SubclassOf(Explainer, instances=True)],
        "threshold": [Interval("real", 0, 1)],
        "threshold_mode": [Options(*THRESHOLD_MODES)],
        "mask_value": [Interval("real", None, None), Options("first")],
        "below_threshold_score": [Interval("real", 0, None)],
        "normalize_features": [InstanceOf(bool)],
        "chunk_size": [Interval("int", 1, None)],
    }

    def __init__(
        self,
        base: Any = "gradient",
        threshold: float = 0.55,
        threshold_mode: str = "quantile",
        mask_value: float | str = 0.0,
        below_threshold_score: float = 0.0,
        normalize_features: bool = False,
        chunk_size: int = 512,
    ) -> None:
        self.base = base
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mask_value = mask_value
        self.below_threshold_score = below_threshold_score
        self.normalize_features = normalize_features
        self.chunk_size = chunk_size

    def setup(self, spec: InputSpec) -> None:
        """Check the options and the input kind, and set the base explainer up."""
        self.base_explainer(spec)

    def base_explainer(self, spec: InputSpec) -> Explainer:
        """The base explainer, set up for ``spec``.

        Raises
        ------
        ValueError
            For inputs without a time axis.
        """
        if spec.kind not in SEQUENCE_KINDS:
            raise ValueError(
                f"explainer 'tsr' rescales over a time axis: it takes time series (N, T, F) and "
                f"raster sequences (N, T, C, H, W); got {spec.kind.replace('_', ' ')} input "
                f"with samples of shape {spec.sample_shape}."
            )
        return plugins.resolve("explainers", self.base, spec=spec)

    def explain(
        self,
        model: nn.Module,
        X: torch.Tensor,
        target: torch.Tensor,
        spec: InputSpec,
        *,
        create_graph: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the model output for ``X`` and the TSR maps ``(N, *spec.annotation_shape)``."""
        base = self.base_explainer(spec)
        X = X.detach()
        n_samples, n_steps = X.shape[:2]
        # (N, T, C, P): P features per step, each spanning C values (one for time series).
        cells = X.unsqueeze(2) if spec.kind == "time_series" else X.flatten(start_dim=3)
        if self.mask_value == "first":
            fill = X.reshape(n_samples, -1)[:, 0]
        else:
            fill = torch.full((n_samples,), float(self.mask_value), dtype=X.dtype, device=X.device)
        run = _JobRunner(base, model, X, cells, fill, target, spec, int(self.chunk_size))

        # Step 1: the unmasked inputs, then every step of every sample masked.
        samples = torch.arange(n_samples, device=X.device)
        step_samples = samples.repeat_interleave(n_steps)
        steps = torch.arange(n_steps, device=X.device).repeat(n_samples)
        changes = run(
            torch.cat([samples, step_samples]),
            torch.cat([torch.zeros_like(samples), steps]),
            torch.cat([torch.full_like(samples, ORIGINAL), torch.full_like(steps, WHOLE_STEP)]),
        )
        time = minmax_rescale(changes.reshape(n_samples, n_steps))
        if self.threshold_mode == "quantile":
            level = torch.quantile(time, float(self.threshold), dim=1, keepdim=True)
        else:
            level = torch.tensor(float(self.threshold), dtype=time.dtype, device=time.device)
        selected = (time > level).nonzero()

        # Step 2: every feature of every selected step masked on its own.
        n_features = cells.shape[-1]
        features = torch.full((n_samples, n_steps, n_features), float(self.below_threshold_score),
                              dtype=time.dtype, device=time.device)
        if len(selected):
            scores = run(
                selected[:, 0].repeat_interleave(n_features),
                selected[:, 1].repeat_interleave(n_features),
                torch.arange(n_features, device=X.device).repeat(len(selected)),
            ).reshape(len(selected), n_features)
            if self.normalize_features:
                scores = minmax_rescale(scores)
            features[selected[:, 0], selected[:, 1]] = scores
        saliency = time.unsqueeze(-1) * features
        return run.output, saliency.reshape(n_samples, *spec.annotation_shape)


class _JobRunner:
    """Explains masked copies of a batch, ``chunk_size`` at a time; one job = (sample, step, feature).

    A job's feature is ``ORIGINAL`` (no mask), ``WHOLE_STEP`` or a feature index.
    Calling the runner returns each job's change ``Σ |R(X_n) - R(X̄)|``; the
    maps and outputs of the unmasked inputs are kept (those jobs come first).
    """

    def __init__(self, base: Explainer, model: nn.Module, X: torch.Tensor, cells: torch.Tensor,
                 fill: torch.Tensor, target: torch.Tensor, spec: InputSpec, chunk_size: int) -> None:
        self.base, self.model, self.spec, self.chunk_size = base, model, spec, chunk_size
        self.X, self.cells, self.fill, self.target = X, cells, fill, target
        self.reference: torch.Tensor | None = None
        self.output: torch.Tensor | None = None

    def masked_copies(self, samples: torch.Tensor, steps: torch.Tensor,
                      features: torch.Tensor) -> torch.Tensor:
        copies = self.cells[samples]  # advanced indexing copies
        rows = torch.arange(len(samples), device=samples.device)
        values = self.fill[samples]
        whole, single = features == WHOLE_STEP, features >= 0
        copies[rows[whole], steps[whole]] = values[whole].reshape(-1, 1, 1)
        copies[rows[single], steps[single], :, features[single]] = values[single].reshape(-1, 1)
        return copies.reshape(len(samples), *self.X.shape[1:])

    def __call__(self, samples: torch.Tensor, steps: torch.Tensor,
                 features: torch.Tensor) -> torch.Tensor:
        changes = []
        for start in range(0, len(samples), self.chunk_size):
            chunk = slice(start, start + self.chunk_size)
            s, t, f = samples[chunk], steps[chunk], features[chunk]
            output, maps = self.base.explain(self.model, self.masked_copies(s, t, f),
                                             self.target[s], self.spec)
            maps = maps.detach().flatten(start_dim=1)
            original = f == ORIGINAL
            if bool(original.any()):
                if self.reference is None:
                    self.reference = maps.new_zeros((len(self.X), maps.shape[1]))
                    self.output = output.detach().new_zeros((len(self.X), *output.shape[1:]))
                self.reference[s[original]] = maps[original]
                self.output[s[original]] = output.detach()[original]
            masked = ~original
            changes.append((maps[masked] - self.reference[s[masked]]).abs().sum(dim=1))
        return torch.cat(changes)
