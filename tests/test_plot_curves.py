"""Curve figures: precision-recall, accuracy drop, sensitivity and perturbation curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from xsup.analysis import perturbation_analysis  # noqa: E402
from xsup.metrics import accuracy_drop, saliency_precision_recall  # noqa: E402
from xsup.plot import (  # noqa: E402
    plot_accuracy_drop,
    plot_perturbation,
    plot_precision_recall,
    plot_sensitivity,
)


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()
            if not line.get_label().startswith("_")}


def test_precision_recall_draws_one_line_per_method_sorted_by_recall():
    figure = plot_precision_recall(
        {"gradient": ([0.9, 0.2, 0.5], [0.3, 0.9, 0.6]), "random": ([0.1, 0.5], [0.5, 0.5])},
        title="Middle",
    )
    ax = figure.axes[0]
    lines = _lines(ax)
    assert list(lines) == ["gradient", "random"]
    assert lines["gradient"].get_xdata().tolist() == [0.2, 0.5, 0.9]
    assert lines["gradient"].get_ydata().tolist() == [0.9, 0.6, 0.3]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("recall", "precision", "Middle")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["gradient", "random"]


def test_precision_recall_reads_the_metric_result_directly():
    S = np.random.default_rng(0).random((4, 5, 3))
    E = np.zeros((4, 5, 3))
    E[:, 1:3, 0] = 1
    scores = saliency_precision_recall(S, E)
    ax = plot_precision_recall({"gradient": scores}).axes[0]
    order = np.argsort(scores["recall"], kind="stable")
    np.testing.assert_allclose(_lines(ax)["gradient"].get_xdata(), scores["recall"][order])
    np.testing.assert_allclose(_lines(ax)["gradient"].get_ydata(), scores["precision"][order])


def test_accuracy_drop_converts_the_metric_percentages_to_fractions():
    X = np.array([[2.0, 0.0, 0.0, 0.0], [-2.0, 0.0, 0.0, 0.0]])

    def predict(inputs):
        return (inputs[:, 0] > 0).astype(int)

    result = accuracy_drop(predict, X, [1, 0], [[1.0, 0, 0, 0]] * 2, replacement=-1.0,
                           percentages=[0, 50, 100])
    ax = plot_accuracy_drop({"right": result, "manual": ([0, 0.5, 1], [1, 1, 0.5])}).axes[0]
    lines = _lines(ax)
    assert lines["right"].get_xdata().tolist() == [0.0, 0.5, 1.0]
    assert lines["right"].get_ydata().tolist() == [1.0, 0.5, 0.5]
    assert ax.get_xlabel() == "fraction of saliency masked" and ax.get_ylabel() == "accuracy"


def test_accuracy_drop_rejects_percentages_given_as_fractions():
    with pytest.raises(ValueError, match=r"curves\['a'\] fraction must lie in \[0, 1\].*0 to 100"):
        plot_accuracy_drop({"a": ([0, 50, 100], [1, 0.7, 0.5])})


def test_sensitivity_draws_mean_with_a_band_and_log_axis():
    ax = plot_sensitivity(
        {"STES": ([10, 0.1, 1], [0.5, 0.4, 0.6], [0.1, 0.05, 0.02]),
         "no band": ([1, 2], [0.3, 0.3], None)},
        xlabel="sigma1", ylabel="IoU", log_x=True,
    ).axes[0]
    lines = _lines(ax)
    assert list(lines) == ["STES", "no band"]
    assert lines["STES"].get_xdata().tolist() == [0.1, 1, 10]
    assert lines["STES"].get_ydata().tolist() == [0.4, 0.6, 0.5]
    assert len(ax.collections) == 1  # one band: the second curve has no std
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(0.35) and band[:, 1].max() == pytest.approx(0.62)
    assert ax.collections[0].get_facecolor()[0][:3] == pytest.approx(
        to_rgba(lines["STES"].get_color())[:3])
    assert (ax.get_xscale(), ax.get_xlabel(), ax.get_ylabel()) == ("log", "sigma1", "IoU")


def test_curves_draw_into_a_given_axes():
    figure = Figure()
    ax = figure.subplots()
    assert plot_sensitivity({"a": ([1, 2], [0.1, 0.2], [0, 0])}, ax=ax) is figure
    assert plot_precision_recall({"b": ([0.1], [0.9])}, ax=ax) is figure
    assert len(figure.axes) == 1 and len(_lines(ax)) == 2


@pytest.mark.parametrize(
    ("function", "curves", "kwargs", "error", "match"),
    [
        (plot_precision_recall, {}, {}, TypeError, "curves must be a non-empty mapping"),
        (plot_precision_recall, [([0.1], [0.2])], {}, TypeError, "got list"),
        (plot_precision_recall, {"a": ([0.1, 0.2], [0.5])}, {}, ValueError,
         r"curves\['a'\] must have recall, precision of one length; got lengths \[2, 1\]"),
        (plot_precision_recall, {"a": ([0.1],)}, {}, ValueError,
         r"curves\['a'\] must be a tuple \(recall, precision\); got tuple of length 1"),
        (plot_precision_recall, {"a": {"recall": [0.1]}}, {}, ValueError, "without the keys"),
        (plot_precision_recall, {"a": (["x"], [0.1])}, {}, TypeError,
         r"curves\['a'\] recall must hold real numbers"),
        (plot_precision_recall, {"a": ([[0.1]], [0.1])}, {}, ValueError, "1-D"),
        (plot_precision_recall, {"a": ([0.1], [np.inf])}, {}, ValueError, "infinity"),
        (plot_precision_recall, {"a": ([0.1], [0.2])}, {"ax": "left"}, TypeError,
         "ax must be a matplotlib Axes or None; got str"),
        (plot_sensitivity, {"a": ([1, 2], [0.1, 0.2], [0.1, -0.1])}, {}, ValueError,
         "std must be non-negative"),
        (plot_sensitivity, {"a": ([0, 1], [0.1, 0.2], None)}, {"log_x": True}, ValueError,
         "log_x=True needs positive values"),
        (plot_sensitivity, {"a": ([1], [0.1], None)}, {"log_x": "yes"}, TypeError, "log_x must"),
        (plot_sensitivity, {"a": ([1], [0.1])}, {}, ValueError, r"\(values, mean, std\)"),
    ],
)
def test_bad_curves_are_named(function, curves, kwargs, error, match):
    with pytest.raises(error, match=match):
        function(curves, **kwargs)


class _Field(torch.nn.Module):
    def forward(self, x):
        s = x[:, -1:, 0, 2:5, 2:5].mean(dim=(1, 2, 3))
        return torch.stack([-10 * s, 10 * s], dim=1)


@pytest.fixture(scope="module")
def perturbation_result():
    X = np.random.default_rng(0).normal(size=(60, 4, 1, 7, 7)).astype(np.float32)
    y = (X[:, -1, 0, 2:5, 2:5].mean(axis=(1, 2)) > 0).astype(int)
    return perturbation_analysis(_Field(), X, y, task="classification", n_repeats=2,
                                 random_state=0)


def test_perturbation_plot_has_one_panel_per_analysis_with_the_reach(perturbation_result):
    figure = plot_perturbation(perturbation_result)
    spatial, temporal = figure.axes
    assert (spatial.get_title(), temporal.get_title()) == ("spatial", "temporal")
    assert spatial.get_xlabel() == "distance d (pixels)"
    assert temporal.get_ylabel() == "log-loss increase"
    assert _lines(spatial)["mean ± std over repeats"].get_xdata().tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(_lines(spatial)["mean ± std over repeats"].get_ydata(),
                               perturbation_result.spatial.increase)
    assert _lines(spatial)["reach = 1"].get_xdata()[0] == 1
    assert _lines(temporal)["reach = 1"].get_xdata()[0] == 1
    hollow = [line for line in spatial.get_lines() if line.get_markerfacecolor() == "white"]
    assert hollow[0].get_xdata().tolist() == [2, 3]  # the rings that do not count


def test_perturbation_plot_uses_given_axes_and_checks_their_number(perturbation_result):
    figure = Figure()
    axes = figure.subplots(1, 2)
    assert plot_perturbation(perturbation_result, ax=list(axes)) is figure
    with pytest.raises(ValueError, match=r"one Axes per analysis in the result \(2\); got 1"):
        plot_perturbation(perturbation_result, ax=axes[0])
    with pytest.raises(TypeError, match="result must be a PerturbationResult"):
        plot_perturbation({"spatial": None})
