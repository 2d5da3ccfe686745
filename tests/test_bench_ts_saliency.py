"""The time-series saliency benchmark: data preparation, Diff scores, tables and verdicts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from xsup.bench import ts_saliency
from xsup.bench._ts_saliency_report import differences, make_tables

SETTINGS = replace(ts_saliency.QUICK, datasets=("middle", "rare_time", "rare_feature"),
                   architectures=("tcn",), table1_datasets=("middle",))


def _results(trad: dict[str, float], sal: dict[str, float], tsr: float, plain: float):
    """Scores of Gradient and Random per data set; Random is 0.1 everywhere."""
    results = {}
    for kind in SETTINGS.datasets:
        for training, values in (("Trad.", trad), ("Sal.", sal)):
            results[("gaussian", kind, "tcn", training)] = {
                "Gradient": {m: [values[kind]] for m in ("AUPR", "AUP", "AUR", "AUC")},
                "Random": {m: [0.1] for m in ("AUPR", "AUP", "AUR", "AUC")},
            }
    table1 = results[("gaussian", "middle", "tcn", "Trad.")]
    table1["Gradient"]["AUPR"] = [plain]
    table1["TSR + Gradient"] = {"AUPR": [tsr], "AUP": [0.4], "AUR": [0.5], "AUC": [0.6]}
    return results


def test_data_is_scaled_per_cell_on_the_training_set_only():
    data = ts_saliency._data(SETTINGS, "middle", "gaussian", seed=0)
    assert data.X.shape == (SETTINGS.n_train, SETTINGS.n_steps, SETTINGS.n_features)
    assert data.X_test.shape == (SETTINGS.n_test, SETTINGS.n_steps, SETTINGS.n_features)
    assert data.E_test.shape == data.X_test.shape and data.replacement.shape == data.X.shape[1:]
    assert np.allclose(data.X.min(axis=0), 0.0) and np.allclose(data.X.max(axis=0), 1.0)
    assert data.X_test.min() < 0.0 or data.X_test.max() > 1.0  # the test set is not refitted
    assert set(np.unique(data.y)) == {0, 1} and data.X.dtype == np.float32


def test_diff_is_the_method_minus_the_random_control_per_seed():
    scores = {"Gradient": {"AUP": [0.5, 0.3]}, "Random": {"AUP": [0.2, 0.4]}}
    key = ("gaussian", "middle", "tcn", "Trad.")
    assert differences({key: scores}, key, "Gradient", "AUP") == pytest.approx([0.3, -0.1])
    assert differences({key: {"Gradient": scores["Gradient"]}}, key, "Gradient", "AUP") == []


def test_tables_average_diff_over_data_sets_and_mark_the_best():
    trad = {"middle": 0.3, "rare_time": 0.2, "rare_feature": 0.4}
    sal = {"middle": 0.5, "rare_time": 0.1, "rare_feature": 0.6}
    tables = make_tables(_results(trad, sal, tsr=0.6, plain=0.3), {}, SETTINGS)
    table1 = tables["TSR Table 1: TCN on middle (process: gaussian)"]
    assert "| TSR + Gradient | **0.600 ± 0.000** |" in table1
    table2 = next(text for head, text in tables.items() if head.startswith("SGT Table 2"))
    # Trad.: mean of (0.2, 0.1, 0.3) = 0.2; Sal.: mean of (0.4, 0.0, 0.5) = 0.3.
    assert "| Diff(AUP) | tcn | 0.200 ± 0.000 | 0.300 ± 0.000 |" in table2


def _seeded(values: dict[str, list[float]], random: float = 0.1):
    """Gradient and Random AUP per seed on every data set of SETTINGS (Random constant)."""
    return {kind: {"Gradient": {"AUP": list(values[kind])},
                   "Random": {"AUP": [random] * len(values[kind])}} for kind in values}


def test_claims_pair_the_seeds_of_each_data_set_and_of_the_mean_over_data_sets():
    from xsup.bench._ts_saliency_report import make_claims

    settings = replace(SETTINGS, methods=("Gradient",), processes=("gaussian",),
                       process_datasets=("middle",), table1_datasets=())
    trad = {"middle": [0.3, 0.32, 0.31], "rare_time": [0.2, 0.25, 0.2],
            "rare_feature": [0.4, 0.4, 0.45]}
    sal = {"middle": [0.5, 0.51, 0.55], "rare_time": [0.1, 0.3, 0.15],
           "rare_feature": [0.3, 0.32, 0.31]}
    results = {}
    for training, values in (("Trad.", trad), ("Sal.", sal)):
        for kind, scores in _seeded(values).items():
            results[("gaussian", kind, "tcn", training)] = scores
    claims = {claim.text: claim.comparison for claim in make_claims(results, settings)}
    assert claims["SGT raises Diff(AUP) of (TCN, Gradient), middle (gaussian)"].verdict == "holds"
    assert claims["SGT raises Diff(AUP) of (TCN, Gradient), rare_time (gaussian)"].verdict == \
        "not significant"
    assert claims["SGT raises Diff(AUP) of (TCN, Gradient), rare_feature (gaussian)"].verdict == \
        "reversed"
    mean = claims["SGT raises Diff(AUP) of (TCN, Gradient), mean over the data sets"]
    # Per seed, Sal. minus Trad. averaged over the three data sets: 0, 0.16 / 3, 0.05 / 3.
    assert mean.differences == pytest.approx((0.0, 0.16 / 3, 0.05 / 3), abs=1e-9)


def test_tsr_claim_compares_aupr_seed_by_seed():
    from xsup.bench._ts_saliency_report import make_claims

    scores = {"Gradient": {"AUPR": [0.30, 0.32, 0.31], "AUP": [0.3] * 3},
              "TSR + Gradient": {"AUPR": [0.40, 0.41, 0.43], "AUP": [0.3] * 3,
                                 "AUR": [0.45, 0.5, 0.48]},
              "Random": {"AUPR": [0.1] * 3, "AUP": [0.1] * 3, "AUR": [0.4] * 3}}
    settings = replace(SETTINGS, datasets=(), processes=(), table1_datasets=("middle",))
    claims = make_claims({("gaussian", "middle", "tcn", "Trad."): scores}, settings)
    assert [c.text for c in claims] == ["TSR + Gradient AUPR above Gradient's, middle (gaussian)",
                                        "TSR + Gradient AUR above the random control's, middle "
                                        "(gaussian)"]
    assert [c.comparison.verdict for c in claims] == ["holds", "holds"]


def test_table_labels_map_to_explainer_names_and_options():
    from xsup.explainers import InputGradient, SmoothGrad

    name, options = ts_saliency._method_options("TSR + Gradient", 0)
    assert name == "tsr" and isinstance(options["base"], InputGradient)
    name, options = ts_saliency._method_options("TSR + SmoothGrad", 4)
    assert isinstance(options["base"], SmoothGrad) and options["base"].random_state == 4
    assert ts_saliency._method_options("Random", 3) == ("random", {"random_state": 3})
    assert ts_saliency._method_options("Gradient", 3) == ("gradient", {})
    assert ts_saliency._method_options("Integrated Grad.", 3) == (
        "integrated_gradients", {"random_state": 3})
    with pytest.raises(KeyError):
        ts_saliency._method_options("Nope", 0)
