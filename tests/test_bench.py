"""Reproduction benchmarks: quick modes write their files; ``xsup bench`` usage errors."""

from __future__ import annotations

import json

import pytest

from xsup.bench import BENCHMARKS, run_benchmark
from xsup.bench._common import format_table, mean_std
from xsup.cli.main import main

FIGURES = {"stes": ["stes_saliency.png"], "sensitivity": ["sensitivity.png"],
           "res": ["res_training_sizes.png", "res_saliency.png"],
           "noise": ["noise_corruptions.png", "noise_digits.png", "noise_sequences.png",
                     "noise_training_sizes.png"],
           "reach": ["reach_curves.png"], "sgt": ["sgt_accuracy_drop.png"],
           "ts-saliency": ["ts_saliency_maps.png", "ts_accuracy_drop.png", "ts_precision_recall.png",
                           "sgt_tcn_gradient.png"]}


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err
    return err


@pytest.mark.parametrize("name", sorted(set(BENCHMARKS) - {"perf"}))  # perf: test_bench_perf.py
def test_quick_mode_writes_results_and_figures(name, tmp_path, capsys):
    out = tmp_path / name
    assert main(["bench", name, "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[1/" in printed and "done in" in printed  # progress lines
    markdown = (out / "results.md").read_text()
    assert "Mode: quick" in markdown and " ± " in markdown
    payload = json.loads((out / "results.json").read_text())
    assert payload["benchmark"] == name and payload["mode"] == "quick"
    assert payload["environment"]["torch_threads"] == 1 and payload["environment"]["cpu"]
    for figure in FIGURES[name]:
        data = (out / figure).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 1000
        assert figure in payload["figures"] and f"]({figure})" in markdown


def test_stes_quick_table_has_every_method_and_metric(tmp_path):
    from xsup.bench.stes import METHODS, METRICS

    result = run_benchmark("stes", tmp_path, quick=True)
    scores = result.data["scores"]
    assert list(scores) == [method.label for method in METHODS]
    for row in scores.values():
        assert list(row) == list(METRICS)
        assert all(len(values) == 1 for values in row.values())
        assert 0.0 <= row["IoU"][0] <= 1.0 and -1.0 <= row["TSS"][0] <= 1.0
    for label in scores:
        assert f"| {label} |" in result.tables["Table 1: methods"]


def test_exhaustive_boxes_mark_the_outside_negative_and_keep_missing_frames():
    import numpy as np

    from xsup.bench.stes import exhaustive_boxes

    E = np.array([[[1.0, 0.0]], [[np.nan, np.nan]]], dtype=np.float32)
    marked = exhaustive_boxes(E)
    assert marked.dtype == np.float32
    assert marked[0].tolist() == [[1.0, -1.0]] and np.isnan(marked[1]).all()


def test_bench_help_lists_the_benchmarks(capsys):
    assert main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in BENCHMARKS) and "--quick" in out


def test_an_unknown_benchmark_is_a_one_line_usage_error(capsys):
    assert main(["bench", "nope"]) == 2
    err = _one_line_error(capsys)
    assert "invalid choice: 'nope'" in err and "stes" in err


def test_repeated_seeds_are_a_one_line_usage_error(capsys, tmp_path):
    assert main(["bench", "stes", "--quick", "--seeds", "1", "1", "--out", str(tmp_path)]) == 2
    assert "--seeds must be distinct" in _one_line_error(capsys)


def test_an_out_that_is_a_file_is_a_one_line_usage_error(capsys, tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    assert main(["bench", "stes", "--quick", "--out", str(path)]) == 2
    assert "not a directory" in _one_line_error(capsys)


def test_a_folder_with_files_bench_did_not_write_needs_force(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["bench", "sgt", "--quick", "--out", str(tmp_path)]) == 2
    err = _one_line_error(capsys)
    assert "holds files that xsup bench did not write" in err and "--force" in err
    assert not (tmp_path / "results.json").exists()
    assert main(["bench", "sgt", "--quick", "--out", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "results.json").exists()
    assert main(["bench", "sgt", "--quick", "--out", str(tmp_path)]) == 0  # its own folder now


def test_a_missing_optional_package_stops_the_bench_before_training(capsys, tmp_path,
                                                                   monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "matplotlib" else real(name, *args))
    assert main(["bench", "stes", "--quick", "--out", str(tmp_path / "out")]) == 2
    err = _one_line_error(capsys)
    assert "needs matplotlib" in err and 'pip install "xsup[plot]"' in err
    assert not (tmp_path / "out").exists()


def test_a_rerun_gives_the_same_numbers_and_restores_the_thread_count(tmp_path):
    import torch

    before = torch.get_num_threads()
    first = run_benchmark("sgt", tmp_path / "a", quick=True, threads=1)
    second = run_benchmark("sgt", tmp_path / "b", quick=True, threads=1)
    assert first.data["curves"] == second.data["curves"]
    assert first.data["claims"] == second.data["claims"]
    assert torch.get_num_threads() == before


def test_run_benchmark_rejects_an_unknown_name_bad_seeds_and_bad_threads(tmp_path):
    with pytest.raises(ValueError, match="name must be one of stes, res, noise"):
        run_benchmark("table9", tmp_path)
    with pytest.raises(ValueError, match="seeds must be distinct non-negative ints"):
        run_benchmark("stes", tmp_path, seeds=[-1])
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        run_benchmark("stes", tmp_path, threads=0)


def test_mean_std_ignores_nan_and_uses_the_sample_deviation():
    mean, std = mean_std([1.0, 3.0, float("nan")])
    assert mean == 2.0 and std == pytest.approx(2**0.5)


def test_format_table_bolds_the_best_mean_of_each_column():
    table = format_table({"a": {"x": [0.2], "y": [0.9]}, "b": {"x": [0.4], "y": [0.1]}}, ["x", "y"])
    rows = table.splitlines()[2:]
    assert rows == ["| a | 0.200 ± 0.000 | **0.900 ± 0.000** |",
                    "| b | **0.400 ± 0.000** | 0.100 ± 0.000 |"]


def test_runs_default_to_a_folder_of_their_own_never_the_reference_results():
    from xsup.bench import default_out

    assert default_out("res", quick=False).as_posix() == "xsup-bench/res"
    assert default_out("res", quick=True).as_posix() == "xsup-bench/res-quick"


def test_the_noise_bench_refits_only_what_reads_the_corrupted_cells():
    import numpy as np

    from xsup.bench.noise import _exact_fit_stands
    from xsup.datasets import corrupt_annotations

    exact = np.zeros((3, 6, 6), dtype=np.float32)
    exact[:, 1:3, 1:3], exact[:, 4, 4] = 1.0, -1.0  # a stroke and a decoy cell
    dilated = corrupt_annotations(exact, "dilate", 1)
    assert _exact_fit_stands("RRR", dilated, exact)
    assert _exact_fit_stands("Baseline", dilated, exact)
    assert not _exact_fit_stands("GRADIA", dilated, exact)
    moved = exact.copy()
    moved[:, 4, 4], moved[:, 0, 5] = 0.0, -1.0  # the decoy cell moves: RRR must be refitted
    assert not _exact_fit_stands("RRR", moved, exact)
    missing = exact.copy()
    missing[0] = np.nan  # a sample loses its annotation: RRR no longer reads it
    assert not _exact_fit_stands("RRR", missing, exact)
