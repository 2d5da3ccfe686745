"""Performance benchmark: the quick mode writes its files with finite positive ratios and rates."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from xsup.bench import BENCHMARKS
from xsup.bench.perf import TRAINING_CONFIGS, brute_force_threshold
from xsup.cli.main import main
from xsup.losses._threshold import adaptive_threshold


def _positive_finite(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("perf")
    assert main(["bench", "perf", "--quick", "--out", str(out)]) == 0
    return out, json.loads((out / "results.json").read_text()), (out / "results.md").read_text()


def test_registered():
    assert "perf" in BENCHMARKS


def test_quick_mode_writes_results_and_figure(quick_run):
    out, payload, markdown = quick_run
    assert payload["benchmark"] == "perf" and payload["mode"] == "quick"
    assert "Mode: quick" in markdown and "Device: `" in markdown
    figure = payload["figures"][0]
    assert (out / figure).read_bytes().startswith(b"\x89PNG") and f"]({figure})" in markdown


def test_epoch_ratios_are_positive_finite(quick_run):
    _, payload, markdown = quick_run
    epochs = payload["epochs"]
    assert _positive_finite(epochs["baseline_epoch_s"])
    expected = {f"{label}{suffix}" for label in TRAINING_CONFIGS
                for suffix in ("", " (create_graph=False)")}
    assert set(epochs["ratios"]) == expected
    for name, row in epochs["ratios"].items():
        assert _positive_finite(row["ratio"]) and _positive_finite(row["epoch_s"])
        assert f"| {name} |" in markdown
    for rows in epochs["profiles"].values():
        assert rows and all(row["self_ms"] >= 0 for row in rows)


def test_wider_backbone_rows_have_their_own_baseline(quick_run):
    _, payload, markdown = quick_run
    wider = payload["wider_backbones"]
    assert list(wider) == ["(32, 64)"]
    row = wider["(32, 64)"]
    assert row["channels"] == [32, 64] and _positive_finite(row["baseline_epoch_s"])
    assert set(row["ratios"]) == {"STES", "STES-I (no interpolator)"}
    assert all(_positive_finite(ratio) for ratio in row["ratios"].values())
    assert "| (16, 32) (default) |" in markdown and "| (32, 64) |" in markdown


def test_interpolator_share_is_the_part_of_the_extra_time_stes_i_saves():
    from xsup.bench._perf_report import _interpolator_share

    assert _interpolator_share({"STES": 1.5, "STES-I (no interpolator)": 1.2}) == pytest.approx(0.6)
    assert _interpolator_share({"STES": 0.9, "STES-I (no interpolator)": 0.9}) == 0.0


def test_threshold_throughput_and_scaling_are_positive_finite(quick_run):
    _, payload, _ = quick_run
    threshold = payload["threshold"]
    assert _positive_finite(threshold["speedup"]) and _positive_finite(threshold["adaptive_s"])
    assert all(_positive_finite(s) for s in threshold["brute_force_s"])
    throughput = payload["throughput"]
    assert set(throughput) == {"tabular", "time_series", "images", "raster_sequences"}
    assert throughput["tabular"]["gradcam"] is None  # no spatial or temporal axis
    for kind, row in throughput.items():
        assert _positive_finite(row["gradient"]), kind
    assert _positive_finite(throughput["raster_sequences"]["gradcam"])
    for axis in ("N", "T", "H x W"):
        row = payload["scaling"][axis]
        assert all(_positive_finite(s) for s in row["seconds"])
        assert math.isfinite(row["slope"])


def test_brute_force_matches_adaptive_threshold_count():
    rng = np.random.default_rng(3)
    for _ in range(20):
        m = int(rng.integers(1, 40))
        saliency = np.round(rng.random(m), 1)  # ties on purpose
        label = rng.random(m)
        positive, negative = label < 0.4, label > 0.6
        a = float(adaptive_threshold(*(torch.as_tensor(v)[None]
                                       for v in (saliency, positive, negative)))[0])
        count = int((saliency[positive] >= a).sum() + (saliency[negative] <= a).sum())
        threshold, best = brute_force_threshold(saliency, positive, negative, chunk=7)
        assert count == best
        assert int((saliency[positive] >= threshold).sum()
                   + (saliency[negative] <= threshold).sum()) == best


def test_brute_force_rejects_bad_shapes():
    with pytest.raises(ValueError, match="saliency must be 1-D"):
        brute_force_threshold(np.zeros((2, 2)), np.zeros((2, 2), bool), np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="positive and negative must have shape"):
        brute_force_threshold(np.zeros(3), np.zeros(2, bool), np.zeros(3, bool))


def test_memory_ratio_and_tsr_rows(quick_run):
    _, payload, markdown = quick_run
    memory = payload["memory"]
    small, large = memory["runs"]
    assert large["n"] == 10 * small["n"]
    assert large["data_bytes"] > 9 * small["data_bytes"]
    assert _positive_finite(memory["ratio"]) and memory["copy_ratio"] > memory["ratio"]
    assert all(run["peak_rss_bytes"] >= run["rss_after_imports"] > 0 for run in memory["runs"])
    assert "**ratio 10 N / N**" in markdown
    tsr = payload["tsr"]
    assert _positive_finite(tsr["speedup"]) and tsr["max_abs_difference"] < 1e-4
    assert "TSR: batched against the loop" in markdown


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU wording")
def test_gpu_columns_say_cpu_without_cuda(quick_run):
    from xsup.bench._perf_memory import gpu_utilisation

    _, payload, markdown = quick_run
    assert gpu_utilisation() is None
    assert payload["epochs"]["baseline_gpu"] is None
    assert "| GPU utilisation |" in markdown and "n/a (CPU)" in markdown
