"""How far in space and time a fitted model looks: input-perturbation analysis (Robin et al. 2024).

Spatial analysis: the pixels at distance d from a target pixel (a ring) are
shuffled and the increase of the prediction error is recorded, for every d.
Temporal analysis: the frames in a window at lag Δ before the prediction are
shuffled, for every Δ. The effective reach is the farthest ring (lag) whose
shuffling raises the error beyond noise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
import torch
from sklearn.utils import check_random_state

from xsup.analysis._scoring import choose, predict_all, scorer
from xsup.analysis._shuffle import distance_maps, shuffle_ring, shuffle_window
from xsup.validation import check_input

__all__ = ["PerturbationCurve", "PerturbationResult", "perturbation_analysis"]

Analysis = Literal["spatial", "temporal"]

#: Analyses each input kind supports, by the number of dimensions of X.
SUPPORTED = {3: ("temporal",), 4: ("spatial",), 5: ("spatial", "temporal")}
KIND_NAMES = {3: "time series (N, T, F)", 4: "images (N, C, H, W)",
              5: "raster sequences (N, T, C, H, W)"}


@dataclass(frozen=True)
class PerturbationCurve:
    """Error increase of one analysis over distances (spatial) or lags (temporal).

    Attributes
    ----------
    analysis : {"spatial", "temporal"}
        Which analysis.
    positions : numpy.ndarray of int, shape (P,)
        The distances d (pixels) or lags Δ (frames) perturbed.
    errors : numpy.ndarray, shape (n_repeats, P)
        The error of the perturbed inputs, per repeat and position.
    increase : numpy.ndarray, shape (P,)
        Mean over repeats of ``errors - baseline_error``.
    increase_std : numpy.ndarray, shape (P,)
        Sample standard deviation over repeats (0 with a single repeat).
    significant : numpy.ndarray of bool, shape (P,)
        Whether the increase exceeds the threshold (see ``perturbation_analysis``).
    reach : int or None
        The largest significant position; None when none is significant.
    """

    analysis: str
    positions: np.ndarray
    errors: np.ndarray
    increase: np.ndarray
    increase_std: np.ndarray
    significant: np.ndarray
    reach: int | None


@dataclass(frozen=True)
class PerturbationResult:
    """What ``perturbation_analysis`` measured.

    Attributes
    ----------
    task : {"classification", "regression"}
        How the outputs were scored.
    error : {"log-loss", "MSE"}
        The error measure.
    baseline_error : float
        The error on the unperturbed inputs.
    spatial, temporal : PerturbationCurve or None
        The curves of the analyses that ran.
    settings : dict
        The options of the analysis (metric, shuffle, window, n_repeats,
        tolerance, n_std).
    """

    task: str
    error: str
    baseline_error: float
    spatial: PerturbationCurve | None
    temporal: PerturbationCurve | None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def spatial_reach(self) -> int | None:
        """Effective spatial reach in pixels (None: not analysed, or nothing significant)."""
        return None if self.spatial is None else self.spatial.reach

    @property
    def temporal_reach(self) -> int | None:
        """Effective temporal reach in frames (None: not analysed, or nothing significant)."""
        return None if self.temporal is None else self.temporal.reach


def _as_array(X: Any) -> Any:
    """X as a numpy array (memory maps stay memory maps)."""
    X = check_input(X)
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    return X


def _check_number(value: Any, name: str, low: float, high: float | None, integer: bool) -> Any:
    kind = Integral if integer else Real
    upper = "" if high is None else f" and at most {high}"
    if isinstance(value, bool) or not isinstance(value, kind) or not value >= low or (
        high is not None and value > high
    ):
        what = "an int" if integer else "a number"
        raise ValueError(f"{name} must be {what} of at least {low}{upper}; got {value!r}.")
    return value


def _check_positions(values: Any, name: str, low: int, high: int) -> np.ndarray:
    """Distances or lags: distinct integers in [low, high], returned sorted."""
    try:
        array = np.asarray(list(values))
    except TypeError:
        raise ValueError(f"{name} must be a sequence of integers; got {values!r}.") from None
    if array.size == 0 or array.dtype.kind not in "iu" or array.ndim != 1:
        raise ValueError(f"{name} must be a non-empty sequence of integers; got {values!r}.")
    if array.min() < low or array.max() > high or len(np.unique(array)) != len(array):
        raise ValueError(
            f"{name} must be distinct integers from {low} to {high} for this X; "
            f"got {array.tolist()}."
        )
    return np.sort(array)


def _check_targets(target_pixel: Any, n_samples: int, height: int, width: int) -> np.ndarray:
    """Target pixels as ``(1, 2)`` (shared) or ``(N, 2)`` (one per sample) integer rows/columns."""
    if target_pixel is None:
        return np.array([[(height - 1) // 2, (width - 1) // 2]])
    targets = np.asarray(target_pixel)
    if targets.ndim == 1:
        targets = targets[None]
    if targets.dtype.kind not in "iu" or targets.shape not in ((1, 2), (n_samples, 2)):
        raise ValueError(
            "target_pixel must be a (row, column) pair of ints or an int array of shape "
            f"({n_samples}, 2), one pair per sample; got {target_pixel!r}."
        )
    if (targets < 0).any() or (targets[:, 0] >= height).any() or (targets[:, 1] >= width).any():
        raise ValueError(
            f"target_pixel must lie inside the {height} x {width} frames; got {targets.tolist()}."
        )
    return targets


def _curve(analysis: str, positions: np.ndarray, errors: np.ndarray, baseline: float,
           tolerance: float, n_std: float) -> PerturbationCurve:
    """Mean increase, its spread, the significant positions and the reach."""
    increases = errors - baseline
    mean = increases.mean(axis=0)
    std = increases.std(axis=0, ddof=1) if len(increases) > 1 else np.zeros_like(mean)
    threshold = np.maximum(tolerance * max(mean.max(), 0.0), n_std * std / np.sqrt(len(increases)))
    significant = mean > threshold
    reach = int(positions[significant].max()) if significant.any() else None
    return PerturbationCurve(analysis, positions, errors, mean, std, significant, reach)


def perturbation_analysis(
    model: Any,
    X: Any,
    y: Any,
    *,
    task: Literal["classification", "regression"] | None = None,
    analyses: Iterable[Analysis] | None = None,
    distances: Iterable[int] | None = None,
    lags: Iterable[int] | None = None,
    target_pixel: Any = None,
    metric: Literal["chebyshev", "euclidean"] = "chebyshev",
    window: int = 1,
    shuffle: Literal["samples", "positions"] = "samples",
    n_repeats: int = 5,
    tolerance: float = 0.05,
    n_std: float = 2.0,
    batch_size: int = 256,
    random_state: Any = None,
) -> PerturbationResult:
    """Error increase when the input is shuffled at each distance and lag.

    The input-perturbation analysis of Robin et al. (2024). Spatial: the
    ring of pixels at distance d from the target pixel (all channels and
    frames) is shuffled, for each d. Temporal: the window of ``window``
    frames at lags Δ to Δ + window - 1 is shuffled, for each Δ; lag 1 is
    the last frame of the input (the one just before the prediction), lag T
    the first. The error (log-loss of the predicted probabilities for
    classification, mean squared error for regression) of each perturbed copy
    of the data is compared with the error of the unperturbed data:
    ``increase(p) = mean_r [error_r(p)] - error_0`` over ``n_repeats`` seeded
    shuffles r.

    A position counts as used when its mean increase exceeds both
    ``tolerance`` times the curve's largest mean increase and ``n_std``
    standard errors of the mean over the repeats; the effective reach is
    the largest position that counts (None when none does).

    Parameters
    ----------
    model : fitted estimator or torch.nn.Module
        An ``ExplanationSupervisedClassifier`` (or any scikit-learn classifier
        with ``predict_proba`` and ``classes_``), an
        ``ExplanationSupervisedRegressor`` (or any regressor with ``predict``),
        or an ``nn.Module`` mapping a batch of X to outputs (then ``task`` is
        required).
    X : array-like or torch.Tensor
        Time series ``(N, T, F)`` (temporal analysis only), images
        ``(N, C, H, W)`` (spatial only) or raster sequences
        ``(N, T, C, H, W)`` (both).
    y : array-like of shape (N,) or (N, n_targets)
        True class labels (``classes_`` of an estimator; 0 to K - 1 for an
        ``nn.Module``) or regression targets.
    task : {"classification", "regression"}, optional
        For an ``nn.Module``: ``"classification"`` reads its ``(N, K)``
        outputs as logits (softmax gives the probabilities); ``"regression"``
        reads them as predicted values. Inferred for estimators.
    analyses : iterable of {"spatial", "temporal"}, optional
        Which analyses to run; default every one the input kind supports.
    distances : iterable of int, optional
        Distances d in pixels; default 0 to the largest distance in the frame.
    lags : iterable of int, optional
        Lags Δ in frames; default 1 to T - window + 1.
    target_pixel : (int, int) or array of shape (N, 2), optional
        Row and column of the pixel the prediction is about, shared or one
        per sample; default the centre ``((H - 1) // 2, (W - 1) // 2)``.
    metric : {"chebyshev", "euclidean"}, default="chebyshev"
        Pixel distance: ``max(|di|, |dj|)`` (square rings, like a
        convolution's receptive field) or the Euclidean distance rounded half
        up to an integer (round rings).
    window : int, default=1
        Frames shuffled together in the temporal analysis.
    shuffle : {"samples", "positions"}, default="samples"
        ``"samples"``: the perturbed pixels (frames) of each sample are
        replaced by the same pixels (frames) of another sample, drawn by a
        random permutation of the samples; this breaks any use of them while
        keeping their distribution. ``"positions"``: they are permuted among
        themselves within each sample (pixels inside the ring, frames inside
        the window, as the paper's "local order"); a model that pools them
        without regard to order sees no change.
    n_repeats : int, default=5
        Shuffles per position.
    tolerance : float, default=0.05
        Smallest share of the largest mean increase that counts.
    n_std : float, default=2.0
        Smallest number of standard errors (over repeats) that counts.
    batch_size : int, default=256
        Samples predicted at a time.
    random_state : int, RandomState or None, default=None
        Seeds the shuffles.

    Returns
    -------
    PerturbationResult
        Baseline error, one ``PerturbationCurve`` per analysis, and the
        reaches (``result.spatial_reach``, ``result.temporal_reach``).

    Raises
    ------
    ValueError
        An analysis the input kind does not support, bad options, or y that
        does not fit the model.
    TypeError
        ``model`` is neither an estimator nor an ``nn.Module``.

    Examples
    --------
    A model that reads the mean of the 3 x 3 pixels around the centre of the
    last two frames: the analysis finds a reach of 1 pixel and 2 frames.

    >>> import numpy as np, torch
    >>> class Centre(torch.nn.Module):
    ...     def forward(self, x):
    ...         s = x[:, -2:, 0, 3:6, 3:6].mean(dim=(1, 2, 3))
    ...         return torch.stack([-8 * s, 8 * s], dim=1)
    >>> X = np.random.default_rng(0).normal(size=(200, 6, 1, 9, 9)).astype("float32")
    >>> y = (X[:, -2:, 0, 3:6, 3:6].mean(axis=(1, 2, 3)) > 0).astype(int)
    >>> result = perturbation_analysis(Centre(), X, y, task="classification", random_state=0)
    >>> result.spatial_reach, result.temporal_reach
    (1, 2)
    >>> result.spatial.increase[2:].tolist()  # rings 2, 3, 4 are never read
    [0.0, 0.0, 0.0]
    """
    X = _as_array(X)
    n_samples, ndim = len(X), X.ndim
    if ndim not in SUPPORTED:
        raise ValueError(
            "X must hold time series (N, T, F), images (N, C, H, W) or raster sequences "
            f"(N, T, C, H, W); got shape {tuple(X.shape)} (tabular data has neither space "
            "nor time)."
        )
    supported = SUPPORTED[ndim]
    if analyses is None:
        chosen = supported
    else:
        chosen = tuple(analyses) if not isinstance(analyses, str) else (analyses,)
        unsupported = [a for a in chosen if a not in supported]
        if not chosen or unsupported:
            raise ValueError(
                f"analyses must be a non-empty selection of {list(supported)} for "
                f"{KIND_NAMES[ndim]}; got {list(chosen)}."
            )
    metric = choose(metric, "metric", ("chebyshev", "euclidean"))
    shuffle = choose(shuffle, "shuffle", ("samples", "positions"))
    n_repeats = _check_number(n_repeats, "n_repeats", 1, None, integer=True)
    batch_size = _check_number(batch_size, "batch_size", 1, None, integer=True)
    tolerance = _check_number(tolerance, "tolerance", 0, 1, integer=False)
    n_std = _check_number(n_std, "n_std", 0, None, integer=False)
    if shuffle == "samples" and n_samples < 2:
        raise ValueError(f"shuffle='samples' needs at least 2 samples in X; got {n_samples}.")
    if distances is not None and "spatial" not in chosen:
        raise ValueError(f"distances is for the spatial analysis, which {KIND_NAMES[ndim]} "
                         "do not get; leave it None.")
    if lags is not None and "temporal" not in chosen:
        raise ValueError(f"lags is for the temporal analysis, which {KIND_NAMES[ndim]} "
                         "do not get; leave it None.")

    if "spatial" in chosen:
        height, width = X.shape[-2:]
        dist = distance_maps(_check_targets(target_pixel, n_samples, height, width),
                             height, width, metric)
        largest = int(dist.max())
        distances = _check_positions(
            range(largest + 1) if distances is None else distances, "distances", 0, largest)
    if "temporal" in chosen:
        n_steps = X.shape[1]
        if shuffle == "positions" and window == 1:
            raise ValueError("window must be at least 2 with shuffle='positions' (one frame "
                             "has no order to shuffle); got 1.")
        window = _check_number(window, "window", 1, n_steps, integer=True)
        lags = _check_positions(range(1, n_steps - window + 2) if lags is None else lags,
                                "lags", 1, n_steps - window + 1)

    rng = check_random_state(random_state)
    task, predict, error = scorer(model, task, y)

    def errors_of(positions: np.ndarray, shuffled: Any) -> np.ndarray:
        """Error per repeat and position; ``shuffled(position, donors)`` builds a batch maker."""
        errors = np.empty((n_repeats, len(positions)))
        for column, position in enumerate(positions):
            for repeat in range(n_repeats):
                batch = shuffled(position, rng.permutation(n_samples))
                errors[repeat, column] = error(predict_all(predict, n_samples, batch_size, batch))
        return errors

    def ring_batches(d: int, donors: np.ndarray) -> Any:
        ring = dist == d
        return lambda start, stop: shuffle_ring(
            X, start, stop, ring if len(ring) == 1 else ring[start:stop], shuffle, donors, rng)

    def window_batches(lag: int, donors: np.ndarray) -> Any:
        steps = slice(n_steps - lag - window + 1, n_steps - lag + 1)
        return lambda start, stop: shuffle_window(X, start, stop, steps, shuffle, donors, rng)

    was_training = isinstance(model, torch.nn.Module) and model.training
    if isinstance(model, torch.nn.Module):
        model.eval()
    try:
        baseline = error(predict_all(
            predict, n_samples, batch_size,
            lambda start, stop: np.array(X[start:stop], dtype=np.float32)))
        spatial = temporal = None
        if "spatial" in chosen:
            spatial = _curve("spatial", distances, errors_of(distances, ring_batches), baseline,
                             tolerance, n_std)
        if "temporal" in chosen:
            temporal = _curve("temporal", lags, errors_of(lags, window_batches), baseline,
                              tolerance, n_std)
    finally:
        if was_training:
            model.train()
    settings = {"metric": metric, "shuffle": shuffle, "window": window, "n_repeats": n_repeats,
                "tolerance": tolerance, "n_std": n_std}
    return PerturbationResult(task, "log-loss" if task == "classification" else "MSE",
                              baseline, spatial, temporal, settings)
