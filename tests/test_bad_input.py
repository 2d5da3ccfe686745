"""Every public entry point refuses bad input with an error that names the argument.

One case per bad input: the exception type and a message that names the
argument, what was expected and what came. docs/errors.md lists the same
cases for users.
"""

from __future__ import annotations

import json
import re

import numpy as np
import optuna
import pytest
import scipy.sparse
import torch
from optuna.distributions import FloatDistribution
from sklearn.exceptions import NotFittedError

from xsup import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor
from xsup import datasets, metrics, tuning
from xsup.cli.main import main

rng = np.random.default_rng(0)
N = 12
X = rng.normal(size=(N, 5)).astype(np.float32)
Y = np.arange(N) % 2
E = np.ones((N, 5), dtype=np.float32)
X_IMG = rng.normal(size=(N, 1, 6, 6)).astype(np.float32)
E_IMG = np.ones((N, 6, 6), dtype=np.float32)
S = rng.uniform(size=(4, 3, 5))
E_TS = (rng.uniform(size=(4, 3, 5)) > 0.5).astype(float)


def clf(**params):
    settings = {"max_epochs": 1, "verbose": 0, "train_split": None, "random_state": 0}
    return ExplanationSupervisedClassifier(**{**settings, **params})


def reg(**params):
    settings = {"max_epochs": 1, "verbose": 0, "train_split": None, "random_state": 0}
    return ExplanationSupervisedRegressor(**{**settings, **params})


@pytest.fixture(scope="module")
def fitted():
    """Models fitted for one epoch on tiny data, shared by the cases that need one."""
    return {
        "clf": clf().fit(X, Y),
        "reg": reg().fit(X, rng.normal(size=(N, 2))),
        "img": clf(loss="gradia").fit(X_IMG, Y, E_IMG),
    }


def _with_nan(array, value=np.nan):
    array = array.copy()
    array.flat[7] = value
    return array


def _cuda_missing():
    return pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")


# (id, call(fitted models), exception type, regular expression the message must match)
ESTIMATOR_CASES = [
    # X: dtypes, ragged, rank, empty, non-finite
    ("X-strings", lambda f: clf().fit(np.full((N, 3), "x"), Y), TypeError,
     "X must hold real numbers; got non-numeric values"),
    ("X-objects", lambda f: clf().fit(np.array([[{}]] * N, dtype=object), Y), TypeError,
     r"X must hold real numbers; got non-numeric values \(float\(\) argument"),
    ("X-complex", lambda f: clf().fit(X.astype(np.complex128), Y), ValueError,
     r"X must hold real numbers; Complex data not supported \(got dtype complex128\)"),
    ("X-complex-tensor", lambda f: clf().fit(torch.ones(N, 5, dtype=torch.complex64), Y),
     ValueError, "X must hold real numbers; Complex data not supported"),
    ("X-ragged", lambda f: clf().fit([[1.0, 2.0], [3.0]] * 6, Y), ValueError,
     "X must be a rectangular array; got a ragged sequence"),
    ("X-1d", lambda f: clf().fit(np.ones(N), Y), ValueError,
     r"X must have 2 \(tabular \(F,\)\).*got shape \(12,\)\. Reshape your data"),
    ("X-6d", lambda f: clf().fit(np.ones((N, 2, 2, 2, 2, 2)), Y), ValueError,
     r"X must have 2 .*5 \(raster sequences \(T, C, H, W\)\) dimensions; got shape \(12, 2, 2"),
    ("X-sparse", lambda f: clf().fit(scipy.sparse.csr_matrix(X), Y), TypeError,
     "Sparse data was passed for X, but dense data is required"),
    ("X-no-samples", lambda f: clf().fit(np.ones((0, 5)), Y[:0]), ValueError,
     r"X must have at least 1 sample: Found array with 0 sample\(s\)"),
    ("X-no-features", lambda f: clf().fit(np.ones((N, 0)), Y), ValueError,
     r"X must have at least 1 value on every sample axis: Found array with 0 feature\(s\)"),
    ("X-one-sample", lambda f: clf().fit(X[:1], Y[:1]), ValueError,
     "X must have at least 2 samples to fit; got n_samples = 1"),
    ("X-nan", lambda f: clf().fit(_with_nan(X), Y), ValueError,
     "Input X contains NaN or infinity; X must be finite"),
    ("X-inf", lambda f: clf().fit(_with_nan(X, np.inf), Y), ValueError,
     "Input X contains NaN or infinity"),
    # y
    ("y-none", lambda f: clf().fit(X), ValueError,
     "requires y to be passed, but the target y is None"),
    ("y-length", lambda f: clf().fit(X, Y[:-1]), ValueError,
     "y has 11 samples but X has 12: X and y have inconsistent numbers of samples"),
    ("y-continuous", lambda f: clf().fit(X, np.linspace(0, 1, N)), ValueError,
     r"y must hold class labels \(Unknown label type: continuous"),
    ("y-single-class", lambda f: clf().fit(X, np.zeros(N)), ValueError,
     r"y has a single class \(.*0.*\); a classifier needs at least 2 classes"),
    ("y-2d-for-classifier", lambda f: clf().fit(X, np.ones((N, 2))), ValueError,
     r"y should be a 1d array, got an array of shape \(12, 2\)"),
    ("classes-single", lambda f: clf().partial_fit(X, Y * 0, classes=[0]), ValueError,
     "classes has a single class"),
    ("y-nan-for-regressor", lambda f: reg().fit(X, _with_nan(np.ones(N), np.nan)), ValueError,
     "y must hold finite real numbers; Input y contains NaN"),
    ("y-strings-for-regressor", lambda f: reg().fit(X, np.array(["a"] * N)), ValueError,
     "y must hold finite real numbers"),
    ("y-3d-for-regressor", lambda f: reg().fit(X, np.ones((N, 2, 2))), ValueError,
     r"y must have shape \(n_samples,\) or \(n_samples, n_targets\); got \(12, 2, 2\)"),
    # E
    ("E-shape", lambda f: clf(loss="gradia").fit(X_IMG, Y, np.ones((N, 1, 6, 6))), ValueError,
     r"E has shape \(12, 1, 6, 6\) but X \(12, 1, 6, 6\) implies \(12, 6, 6\)"),
    ("E-length", lambda f: clf(loss="rrr").fit(X, Y, E[:-1]), ValueError,
     r"E has shape \(11, 5\) but X \(12, 5\) implies \(12, 5\)"),
    ("E-outside-range", lambda f: clf(loss="rrr").fit(X, Y, E * 2), ValueError,
     r"E must lie in \[-1, 1\] .*got values from 2 to 2"),
    ("E-inf", lambda f: clf(loss="rrr").fit(X, Y, _with_nan(E, np.inf)), ValueError,
     "E contains infinity; use NaN to mark missing annotations"),
    ("E-strings", lambda f: clf(loss="rrr").fit(X, Y, np.full((N, 5), "a")), TypeError,
     r"E must hold numbers in \[-1, 1\] \(or NaN for missing\); got dtype <U1"),
    ("E-complex-tensor", lambda f: clf(loss="rrr").fit(X, Y, torch.ones(N, 5, dtype=torch.cfloat)),
     TypeError, "E must hold real numbers in .*got dtype torch.complex64"),
    ("E-ragged", lambda f: clf(loss="rrr").fit(X, Y, [[1.0] * 5] * 11 + [[1.0]]), ValueError,
     r"E must be a rectangular array of shape \(12, 5\); got a ragged sequence"),
    ("E-missing-for-loss", lambda f: clf(loss="gradia").fit(X, Y), ValueError,
     "loss='gradia' needs annotations: pass E"),
    # hyperparameters
    ("sigma1-negative", lambda f: clf(sigma1=-1.0).fit(X, Y), ValueError,
     "sigma1 must be a finite non-negative number; got -1.0"),
    ("sigma2-infinite", lambda f: clf(sigma2=float("inf")).fit(X, Y), ValueError,
     "sigma2 must be a finite non-negative number; got inf"),
    ("alpha-negative", lambda f: clf(alpha=-0.1).fit(X, Y), ValueError,
     "alpha must be a finite non-negative number; got -0.1"),
    ("k-above-one", lambda f: clf(k=1.5).fit(X, Y), ValueError,
     r"k must be a fraction in \[0, 1\]; got 1.5"),
    ("lr-zero", lambda f: clf(lr=0.0).fit(X, Y), ValueError,
     "lr must be a positive finite number; got 0.0"),
    ("lr-string", lambda f: clf(lr="fast").fit(X, Y), ValueError,
     "lr must be a positive finite number; got 'fast'"),
    ("batch_size-zero", lambda f: clf(batch_size=0).fit(X, Y), ValueError,
     r"batch_size must be a Python int >= 1 or -1 \(the whole data set\); got 0"),
    ("batch_size-float", lambda f: clf(batch_size=2.5).fit(X, Y), ValueError,
     "batch_size must be a Python int >= 1.*got 2.5"),
    ("batch_size-numpy-integer", lambda f: clf(batch_size=np.int64(4)).fit(X, Y), ValueError,
     r"batch_size must be a Python int >= 1 .*got np.int64\(4\)"),
    ("max_epochs-negative", lambda f: clf(max_epochs=-1).fit(X, Y), ValueError,
     "max_epochs must be an int >= 0; got -1"),
    ("compile-with-explanation-loss", lambda f: clf(loss="rrr", compile=True).fit(X, Y, E),
     ValueError, "compile=True cannot train with loss='rrr': the explanation term needs a double "
     "backward, which torch.compile does not support; pass compile=False"),
    ("random_state-string", lambda f: clf(random_state="seed").fit(X, Y), ValueError,
     r"random_state must be None, an int in \[0, 2\*\*32 - 1\] or a numpy RandomState; "
     "got 'seed'"),
    ("device-unknown", lambda f: clf(device="gpu0").fit(X, Y), ValueError,
     r"device must be 'auto' \(CUDA when present\), a device available here \('cpu'.* or None; "
     "got 'gpu0'"),
    pytest.param("device-cuda-without-cuda", lambda f: clf(device="cuda").fit(X, Y), ValueError,
                 "device must be .*available here.*got 'cuda'", marks=_cuda_missing()),
    pytest.param("device-mps-without-mps", lambda f: clf(device="mps").fit(X, Y), ValueError,
                 "device must be .*available here.*got 'mps'",
                 marks=pytest.mark.skipif(torch.backends.mps.is_available(), reason="MPS here")),
    ("device-meta", lambda f: clf(device="meta").fit(X, Y), ValueError,
     "device must be .*available here.*got 'meta'"),
    ("predict_nonlinearity-misspelt", lambda f: clf(predict_nonlinearity="softmaxx").fit(X, Y),
     ValueError, "predict_nonlinearity must be 'auto', None or a callable; got 'softmaxx'"),
    ("explanation_scale-unknown", lambda f: clf(explanation_scale="max").fit(X, Y), ValueError,
     "explanation_scale must be one of 'none', 'auto'; got 'max'"),
    ("optimizer-option-value", lambda f: clf(optimizer__weight_decay="abc").fit(X, Y), ValueError,
     "optimizer='Adam' refuses optimizer__weight_decay='abc'"),
    ("module-option-unknown", lambda f: clf(module__hiden=3).fit(X, Y), ValueError,
     "module__hiden: not a parameter of module 'mlp' .*hidden"),
    ("fit-unknown-keyword", lambda f: clf().fit(X, Y, scale=5.0), TypeError,
     "fit got unexpected keyword argument.* 'scale': it takes X, y, E and sample_weight"),
    ("fit-few-samples-for-the-default-split",
     lambda f: ExplanationSupervisedClassifier(max_epochs=1, verbose=0).fit(X[:4], Y[:4]),
     ValueError, r"train_split=ValidSplit\(.*\) cannot split the 4 training samples .*"
     "train_split=None"),
    ("sample_weight-negative", lambda f: clf().fit(X, Y, sample_weight=-np.ones(N)), ValueError,
     "sample_weight must be finite and non-negative; got values from -1 to -1"),
    ("sample_weight-length", lambda f: clf().fit(X, Y, sample_weight=np.ones(3)), ValueError,
     r"sample_weight must have shape \(12,\), one weight per sample; got shape \(3,\)"),
    ("sample_weight-all-zero", lambda f: clf().fit(X, Y, sample_weight=np.zeros(N)), ValueError,
     "sample_weight is zero for every sample"),
    # plugin names and kinds
    ("loss-of-another-kind", lambda f: clf(loss="gradcam").fit(X, Y, E), ValueError,
     "Unknown losses plugin 'gradcam'.*'gradcam' is a plugin of kind 'explainers', not 'losses'"),
    ("explainer-of-another-kind", lambda f: clf(loss="rrr", explainer="gradia").fit(X, Y, E),
     ValueError, "'gradia' is a plugin of kind 'losses', not 'explainers'"),
    ("interpolator-misspelt", lambda f: clf(interpolator="linearr").fit(X, Y), ValueError,
     "Unknown interpolators plugin 'linearr'. Did you mean 'linear'"),
    ("module-misspelt", lambda f: clf(module="mlpp").fit(X, Y), ValueError,
     "Unknown modules plugin 'mlpp'. Did you mean 'mlp'"),
    ("loss-not-a-name", lambda f: clf(loss=3.5).fit(X, Y), TypeError,
     "loss must be a registered name or a xsup.base.ExplanationLoss subclass or instance; "
     "got 3.5"),
    ("module-for-another-input-kind", lambda f: clf(module="mlp").fit(X_IMG, Y), ValueError,
     "module='mlp' takes tabular input; X is images"),
    ("plugin-option-unknown", lambda f: clf(loss="rrr", loss__gama=1.0).fit(X, Y, E), ValueError,
     "loss__gama: not a parameter of loss 'rrr'"),
    # fitted models: shapes unlike training, targets out of range
    ("predict-unfitted", lambda f: clf().predict(X), NotFittedError,
     "ExplanationSupervisedClassifier instance is not fitted yet"),
    ("predict-other-features", lambda f: f["clf"].predict(X[:, :4]), ValueError,
     "X has 4 features, but ExplanationSupervisedClassifier is expecting 5 features"),
    ("predict-1d", lambda f: f["clf"].predict(X[0]), ValueError,
     r"X must have 2 .*got shape \(5,\)\. Reshape your data"),
    ("predict_proba-nan", lambda f: f["clf"].predict_proba(_with_nan(X)), ValueError,
     "Input X contains NaN"),
    ("explain-other-sample-shape", lambda f: f["img"].explain(np.ones((2, 1, 8, 8))), ValueError,
     r"X has samples of shape \(1, 8, 8\), but .* fitted on images with samples of shape "
     r"\(1, 6, 6\)"),
    ("partial_fit-other-features", lambda f: f["clf"].partial_fit(X[:, :4], Y), ValueError,
     "X has 4 features, but ExplanationSupervisedClassifier is expecting 5 features"),
    ("score-y-length", lambda f: f["clf"].score(X, Y[:-1]), ValueError,
     "y has 11 samples but X has 12"),
    ("explain-target-unknown-class", lambda f: f["clf"].explain(X, target=7), ValueError,
     r"target has labels \[7\] not in classes_ \[0, 1\]"),
    ("explain-target-length", lambda f: f["clf"].explain(X, target=[0, 1]), ValueError,
     r"target must be one value for all samples or one per sample \(12\); got shape \(2,\)"),
    ("explain-regressor-column", lambda f: f["reg"].explain(X, target=2), ValueError,
     r"target must be output column indices in \[0, 1\]; got 2"),
    ("explain-regressor-fractional-column", lambda f: f["reg"].explain(X, target=0.5), ValueError,
     r"target must be output column indices in \[0, 1\]; got 0.5"),
    ("explain-method-of-another-kind", lambda f: f["clf"].explain(X, method="gradia"),
     ValueError, "'gradia' is a plugin of kind 'losses', not 'explainers'"),
    ("explain-option-unknown", lambda f: f["clf"].explain(X, method="gradient", steps=3),
     ValueError, r"explainer__steps: not a parameter of explainer 'gradient'"),
]

DATASET_CASES = [
    ("events-n_samples", lambda f: datasets.make_spatiotemporal_events(0), ValueError,
     "n_samples must be an int >= 1; got 0"),
    ("events-n_steps", lambda f: datasets.make_spatiotemporal_events(4, n_steps=1), ValueError,
     "n_steps must be an int >= 2; got 1"),
    ("events-positive_rate", lambda f: datasets.make_spatiotemporal_events(4, positive_rate=1.5),
     ValueError, r"positive_rate must be a real number in \(0, 1\); got 1.5"),
    ("events-missing_rate",
     lambda f: datasets.make_spatiotemporal_events(4, missing_annotation_rate=-0.1), ValueError,
     r"missing_annotation_rate must be a real number in \[0, 1\]; got -0.1"),
    ("events-random_state", lambda f: datasets.make_spatiotemporal_events(4, random_state="x"),
     ValueError, "random_state must be None, a non-negative int"),
    ("events-shortcut", lambda f: datasets.make_spatiotemporal_events(4, shortcut="yes"),
     ValueError, "shortcut must be True or False; got 'yes'"),
    ("ts-kind", lambda f: datasets.make_ts_benchmark("middel"), ValueError,
     "kind must be one of middle, small_middle.*; got 'middel'"),
    ("ts-process", lambda f: datasets.make_ts_benchmark("middle", "gauss"), ValueError,
     "process must be one of gaussian, autoregressive.*; got 'gauss'"),
    ("ts-n_steps", lambda f: datasets.make_ts_benchmark("middle", n_samples=2, n_steps=5),
     ValueError, "n_steps must be an int >= 10; got 5"),
    ("digits-test_size", lambda f: datasets.load_decoy_digits(test_size=1.5), ValueError,
     r"test_size must be a float in \(0, 1\) or an int in \[1, 1796\]; got 1.5"),
    ("digits-patch_size", lambda f: datasets.load_decoy_digits(patch_size=9), ValueError,
     r"patch_size must be in \[2, 4\] with code='pattern'; got 9"),
    ("digits-patch_position", lambda f: datasets.load_decoy_digits(patch_position="centre"),
     ValueError, "patch_position must be one of top_left.*; got 'centre'"),
    ("digits-code", lambda f: datasets.load_decoy_digits(code="colour"), ValueError,
     "code must be one of pattern, intensity; got 'colour'"),
    ("process-name", lambda f: datasets.sample_ts_process("brownian"), ValueError,
     "process must be one of gaussian.*; got 'brownian'"),
    ("process-times", lambda f: datasets.sample_ts_process(
        "gaussian", 2, n_steps=5, n_features=1, times=np.ones((3, 5))), ValueError,
     r"times must have shape \(5,\) or \(2, 5\)"),
]

METRIC_CASES = [
    ("iou-shapes", lambda f: metrics.explanation_iou(np.ones((2, 3)), np.ones((2, 4))), ValueError,
     r"S has shape \(2, 3\) but E has shape \(2, 4\)"),
    ("iou-S-nan", lambda f: metrics.explanation_iou(_with_nan(S), E_TS), ValueError,
     "S contains NaN or infinity; saliency maps must be finite"),
    ("iou-S-strings", lambda f: metrics.explanation_iou(np.full((2, 3), "a"), np.ones((2, 3))),
     TypeError, "S must hold real numbers; got dtype <U1"),
    ("iou-S-ragged", lambda f: metrics.explanation_iou([[1.0, 0.0], [1.0]], [[1, 0], [1]]),
     ValueError, "S must be a rectangular array; got a ragged sequence"),
    ("iou-E-outside-range", lambda f: metrics.explanation_iou(S, E_TS * 255), ValueError,
     r"E must lie in \[-1, 1\] .*got values from 0 to 255"),
    ("iou-E-inf", lambda f: metrics.explanation_iou(S, _with_nan(E_TS, np.inf)), ValueError,
     "E contains infinity; use NaN to mark missing annotations"),
    ("iou-empty", lambda f: metrics.explanation_iou(np.ones((0, 3)), np.ones((0, 3))), ValueError,
     r"S and E must hold at least 1 sample; got shape \(0, 3\)"),
    ("iou-threshold", lambda f: metrics.explanation_iou(S, E_TS, threshold=float("nan")),
     ValueError, "threshold must be a finite real number; got nan"),
    ("prf-average", lambda f: metrics.explanation_precision_recall_f1(S, E_TS, average="weighted"),
     ValueError, "average must be 'micro' or 'macro'; got 'weighted'"),
    ("pointing-shapes", lambda f: metrics.pointing_hit_rate(S, E_TS[:3]), ValueError,
     r"S has shape \(4, 3, 5\) but E has shape \(3, 3, 5\)"),
    ("tss-lengths", lambda f: metrics.true_skill_statistic([0, 1, 1], [0, 1]), ValueError,
     "y_true and y_pred must have the same length; got 3 and 2"),
    ("tss-pos_label", lambda f: metrics.true_skill_statistic([0, 1], [0, 1], pos_label=3),
     ValueError, r"pos_label=3 is not one of the labels \[0, 1\]"),
    ("tss-multiclass", lambda f: metrics.true_skill_statistic([0, 1, 2], [0, 1, 2]), ValueError,
     "true_skill_statistic needs binary class labels; y_true looks multiclass"),
    ("spr-level", lambda f: metrics.saliency_precision_recall(S, E_TS, level="row"), ValueError,
     "level must be 'cell', 'time' or 'feature'; got 'row'"),
    ("spr-percentages", lambda f: metrics.saliency_precision_recall(S, E_TS, percentages=[150]),
     ValueError, "percentages must be a strictly increasing sequence .*; got \\[150\\]"),
    ("aopc-S-shape", lambda f: metrics.aopc_comprehensiveness(f["clf"], X, np.ones((N, 4))),
     ValueError, r"S has shape \(12, 4\) but X of shape \(12, 5\) needs saliency maps of shape"),
    ("aopc-estimator", lambda f: metrics.aopc_sufficiency(object(), X, np.ones((N, 5))), TypeError,
     "estimator must be a fitted model with a predict_proba method or a callable"),
    ("accuracy_drop-replacement", lambda f: metrics.accuracy_drop(
        f["clf"], X, Y, np.abs(X), replacement=np.ones((3, 3))), ValueError,
     r"replacement has shape \(3, 3\), which does not broadcast to X's shape \(12, 5\)"),
    ("scorer-metric", lambda f: metrics.explanation_scorer("iouu"), ValueError,
     "metric must be a callable metric.*; got 'iouu'. Did you mean 'iou'"),
]

SPACE = {"sigma1": FloatDistribution(0.1, 10.0, log=True)}

TUNING_CASES = [
    ("search_space-estimator", lambda f: tuning.search_space(object()), TypeError,
     "estimator must be an explanation-supervised estimator .*; got object"),
    ("search_space-loss-of-another-kind", lambda f: tuning.search_space(clf(loss="gradcam")),
     ValueError, "'gradcam' is a plugin of kind 'explainers', not 'losses'"),
    ("as_grid-n", lambda f: tuning.as_grid(SPACE, n=1), ValueError,
     "n must be an integer >= 2; got 1"),
    ("as_grid-space", lambda f: tuning.as_grid([SPACE]), TypeError,
     "space must be a dict mapping parameter names to Optuna distributions; got list"),
    ("as_grid-distribution", lambda f: tuning.as_grid({"sigma1": [0.1, 1.0]}), TypeError,
     "sigma1: cannot make a grid from a list; expected a FloatDistribution"),
    ("tune-n_trials", lambda f: tuning.tune(clf(loss="rrr"), X, Y, E, n_trials=0), ValueError,
     "n_trials must be a positive integer; got 0"),
    ("tune-E-length", lambda f: tuning.tune(clf(loss="rrr"), X, Y, np.ones((20, 5)), n_trials=1),
     ValueError, "E has 20 samples but X has 12: X and E have inconsistent numbers of samples"),
    ("tune-y-length", lambda f: tuning.tune(clf(loss="rrr"), X, Y[:-2], E, n_trials=1),
     ValueError, "y has 10 samples but X has 12"),
    ("tune-cv", lambda f: tuning.tune(clf(loss="rrr"), X, Y, E, n_trials=1, cv=1), ValueError,
     r"cv must be at least 2 folds \(or a CV splitter\); got 1"),
    ("tune-cv-too-many-folds", lambda f: tuning.tune(clf(loss="rrr"), X, Y, E, n_trials=1, cv=12),
     ValueError, r"cv=12 cannot split the 12 samples \(n_splits=12 cannot be greater than the "
     r"number of members in each class.\); pass a smaller cv or tune on more samples"),
    ("tune-param_distributions", lambda f: tuning.tune(
        clf(loss="rrr"), X, Y, E, n_trials=1, param_distributions=[SPACE]), TypeError,
     "param_distributions must be a dict mapping parameter names to Optuna distributions"),
    ("tune-directions", lambda f: tuning.tune(clf(loss="rrr"), X, Y, E, n_trials=1,
                                              directions="up"), ValueError,
     r"directions must hold 'maximize' or 'minimize' once per scorer \(1\); got \['up'\]"),
    ("tune-storage", lambda f: tuning.tune(clf(loss="rrr"), X, Y, E, n_trials=1, storage=3),
     TypeError, "storage must be None, a path, a database URL or an optuna storage; got int"),
    ("tune-n_jobs", lambda f: tuning.tune(clf(loss="rrr"), X, Y, E, n_trials=1, n_jobs=0),
     ValueError, "n_jobs must be a positive integer or -1; got 0"),
    ("tune-timeout-negative", lambda f: tuning.tune(clf(loss="rrr"), X, Y, E, n_trials=1,
                                                    timeout=-1), ValueError,
     "timeout must be a positive number of seconds or None; got -1"),
    ("tune-timeout-string", lambda f: tuning.tune(clf(loss="rrr"), X, Y, E, n_trials=1,
                                                  timeout="abc"), TypeError,
     "timeout must be a positive number of seconds or None; got str 'abc'"),
    ("tune-random_state-string", lambda f: tuning.tune(clf(loss="rrr"), X, Y, E, n_trials=1,
                                                       random_state="x"), TypeError,
     r"random_state must be None or an integer seed in \[0, 4294967295\]; got str 'x'"),
    ("tune-storage-in-a-missing-folder",
     lambda f: tuning.tune(clf(loss="rrr"), X, Y, E, n_trials=1, storage="missing_folder/s.db"),
     ValueError, "storage 'missing_folder/s.db': folder 'missing_folder' does not exist"),
    ("tune-empty-space", lambda f: tuning.tune(clf(loss="none"), X, Y, n_trials=1), ValueError,
     "the search space is empty.*pass param_distributions"),
    ("tune-pruning-without-validation", lambda f: tuning.tune(
        clf(loss="rrr"), X, Y, E, n_trials=1, pruning=True), ValueError,
     "pruning monitors 'valid_loss', which needs a validation split"),
    ("tune-pruner-without-pruning", lambda f: tuning.tune(
        clf(loss="rrr"), X, Y, E, n_trials=1, pruner=optuna.pruners.NopPruner()), ValueError,
     "pruner takes effect only with pruning=True; pass pruning=True or leave it out"),
    ("tune-pruning_monitor-without-pruning", lambda f: tuning.tune(
        clf(loss="rrr"), X, Y, E, n_trials=1, pruning_monitor="train_loss"), ValueError,
     "pruning_monitor='train_loss' takes effect only with pruning=True"),
    ("tune-n_jobs-with-pruning", lambda f: tuning.tune(
        clf(loss="rrr"), X, Y, E, n_trials=1, pruning=True, n_jobs=2), ValueError,
     "n_jobs=2 cannot fit folds in parallel with pruning=True, which reports each fold's epochs "
     "in turn; pass n_jobs=1 or pruning=False"),
]


def _perturbation(X, y, **options):
    from xsup.analysis import perturbation_analysis

    return lambda f: perturbation_analysis(f["img"], X, y, **options)


ANALYSIS_CASES = [
    ("perturbation-tabular", _perturbation(X, Y), ValueError,
     r"X must hold time series \(N, T, F\), images .*; got shape \(12, 5\)"),
    ("perturbation-metric", _perturbation(X_IMG, Y, metric="manhattan"), ValueError,
     "metric must be one of 'chebyshev', 'euclidean'; got 'manhattan'"),
    ("perturbation-n_repeats", _perturbation(X_IMG, Y, n_repeats=0), ValueError,
     "n_repeats must be .* of at least 1.*; got 0"),
]


def _plot_case(call):
    def run(f):
        pytest.importorskip("matplotlib")
        from xsup.plot import plot_saliency_overlays

        return call(plot_saliency_overlays)

    return run


PLOT_CASES = [
    ("plot-index", _plot_case(lambda plot: plot(X_IMG, {"m": E_IMG}, index=N)), ValueError,
     "index=12 is out of range for X with 12 samples"),
    ("plot-maps", _plot_case(lambda plot: plot(X_IMG, [E_IMG])), TypeError,
     "maps must map method names to saliency maps; got list"),
    ("plot-X-tabular", _plot_case(lambda plot: plot(X, {"m": E})), ValueError,
     r"X must hold raster sequences \(N, T, C, H, W\) or images"),
]


def _ids(cases):
    return [case.values[0] if hasattr(case, "values") else case[0] for case in cases]


ALL_CASES = (ESTIMATOR_CASES + DATASET_CASES + METRIC_CASES + TUNING_CASES + ANALYSIS_CASES
             + PLOT_CASES)


@pytest.mark.parametrize(("case", "call", "error", "message"), ALL_CASES, ids=_ids(ALL_CASES))
def test_bad_input_is_refused_with_a_message_naming_it(fitted, case, call, error, message):
    with pytest.raises(error, match=message):
        call(fitted)


# ---------------------------------------------------------------- the command line


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _cli_files(tmp_path):
    (tmp_path / "text.npz").write_text("not an archive")
    np.save(tmp_path / "single.npy", X)
    (tmp_path / "config.json").write_text(json.dumps({"sigmaa": 1.0}))
    return {
        "missing": str(tmp_path / "missing.npz"),
        "text": str(tmp_path / "text.npz"),
        "single": str(tmp_path / "single.npy"),
        "objects": _npz(tmp_path / "objects.npz", X=np.array([{}] * N, dtype=object), y=Y),
        "no-y": _npz(tmp_path / "no_y.npz", X=X),
        "nan": _npz(tmp_path / "nan.npz", X=_with_nan(X), y=Y),
        "bad-E": _npz(tmp_path / "bad_e.npz", X=X_IMG, y=Y, E=np.ones((N, 7, 7))),
        "short-y": _npz(tmp_path / "short_y.npz", X=X, y=Y[:-1]),
        "config": str(tmp_path / "config.json"),
    }


CLI_CASES = [
    ("demo-epochs", ["demo", "--epochs", "0"], r"argument --epochs: must be a positive integer"),
    ("demo-seed", ["demo", "--seed", "-1"], r"argument --seed: must be a non-negative integer"),
    ("tune-trials", ["tune", "--trials", "0"], r"argument --trials: must be a positive integer"),
    ("tune-data", ["tune", "--data", "mnist"], r"argument --data: invalid choice: 'mnist'"),
    ("bench-name", ["bench", "nope"], r"argument NAME: invalid choice: 'nope'"),
    ("plugins-kind", ["plugins", "--kind", "backbones"], r"argument --kind: invalid choice"),
    ("tune-loss", ["tune", "--quick", "--loss", "gradcam"],
     r"--loss 'gradcam': .*'gradcam' is a plugin of kind 'explainers', not 'losses'"),
    ("npz-missing", ["tune", "--npz", "{missing}"],
     r"--npz .*missing.npz: cannot read the file \(No such file or directory\)"),
    ("npz-not-an-archive", ["tune", "--npz", "{text}"],
     r"--npz .*text.npz: not a .npz archive \(files that would need unpickling are refused\)"),
    ("npz-single-array", ["tune", "--npz", "{single}"],
     r"--npz .*single.npy: expected a .npz archive of arrays named X, y"),
    ("npz-pickled-objects", ["tune", "--npz", "{objects}"],
     r"--npz .*objects.npz: not a readable .npz file \(Object arrays cannot be loaded when "
     r"allow_pickle=False\)"),
    ("npz-without-y", ["tune", "--npz", "{no-y}"], r"--npz .*no_y.npz: missing array\(s\) y"),
    ("npz-X-nan", ["tune", "--npz", "{nan}"], r"--npz .*nan.npz: Input X contains NaN"),
    ("npz-E-shape", ["tune", "--npz", "{bad-E}"],
     r"--npz .*bad_e.npz: E has shape \(12, 7, 7\) but X \(12, 1, 6, 6\) implies"),
    ("npz-y-length", ["tune", "--npz", "{short-y}"], r"--npz .*short_y.npz: y has 11 samples"),
    ("config-unknown-parameter", ["tune", "--quick", "--config", "{config}"],
     r"--config .*config.json: unknown parameter 'sigmaa'; valid parameters: alpha"),
    ("tune-out-is-a-file", ["tune", "--quick", "--out", "{config}"],
     r"--out .*config.json: expected a folder for the plots; it is a file"),
    ("tune-explainer-misspelt", ["tune", "--quick", "--explainer", "gradcan"],
     r"--explainer 'gradcan': Unknown explainers plugin 'gradcan'. Did you mean 'gradcam'"),
    ("tune-heartbeat-without-storage", ["tune", "--quick", "--heartbeat", "5"],
     r"--heartbeat 5: needs --storage naming a SQLite file"),
]


@pytest.mark.parametrize(("case", "argv", "message"), CLI_CASES, ids=_ids(CLI_CASES))
def test_bad_command_lines_exit_2_with_one_line_naming_the_option(
    tmp_path, capsys, case, argv, message
):
    files = _cli_files(tmp_path)
    assert main([arg.format(**files) for arg in argv]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("xsup") and "error" in lines[0]
    assert re.search(message, lines[0]), lines[0]


def test_there_are_at_least_35_cases():
    assert len(ALL_CASES) + len(CLI_CASES) >= 35
