"""The ``xsup`` command line: help, plugins, demo, usage errors."""

from __future__ import annotations

import pytest

from xsup.cli.main import main


def test_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "demo" in out and "plugins" in out and "bench" in out


def test_plugins_prints_kind_name_origin_and_status_of_every_kind(capsys):
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["kind", "name", "origin", "status"]
    rows = {tuple(line.split()[:2]) for line in lines[1:]}
    for row in [("losses", "gradia"), ("losses", "none"), ("explainers", "gradcam"),
                ("interpolators", "none"), ("modules", "cnn_gru")]:
        assert row in rows
    assert any(line.startswith("modules") and "xsup (built-in)" in line for line in lines)


def test_plugins_kind_filters_the_table(capsys):
    assert main(["plugins", "--kind", "explainers"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert lines and all(line.startswith("explainers") for line in lines)


def test_plugins_reports_a_broken_plugin_on_one_stderr_line(capsys, monkeypatch):
    import warnings

    from xsup.cli import plugins as command
    from xsup.plugins import PluginWarning

    def table(kinds):
        warnings.warn("losses plugin 'broken' from some-dist 1.0 is skipped: boom", PluginWarning)
        return [("losses", "none", "xsup (built-in)", "usable")]

    monkeypatch.setattr(command, "plugin_table", table)
    assert main(["plugins"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "warning: losses plugin 'broken' from some-dist 1.0 is skipped: boom\n"
    assert "none" in captured.out


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    return err


def test_a_missing_command_is_a_one_line_usage_error(capsys):
    assert main([]) == 2
    assert "required" in _one_line_error(capsys)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["demo", "--epochs", "0"], "--epochs"),
        (["demo", "--epochs", "many"], "--epochs"),
        (["demo", "--seed", "-1"], "--seed"),
        (["plugins", "--kind", "backbones"], "--kind"),
        (["bench"], "bench"),
    ],
)
def test_bad_option_values_exit_2_with_a_one_line_message(capsys, argv, named):
    assert main(argv) == 2
    err = _one_line_error(capsys)
    assert err.startswith("xsup") and "error" in err and named in err


def test_demo_refuses_an_out_path_that_is_a_file(capsys, tmp_path):
    target = tmp_path / "taken"
    target.write_text("")
    assert main(["demo", "--quick", "--out", str(target)]) == 2
    assert "--out" in _one_line_error(capsys)


def test_quick_demo_prints_the_table_and_writes_the_figure(capsys, tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("model"))
    for column in ("accuracy", "F1", "TSS", "IoU"):
        assert column in header
    assert "unsupervised (none)" in printed and "supervised (gradia)" in printed
    assert "epoch" in printed  # progress lines
    figure = out / "demo_saliency.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tune_where_no_trial_completed_is_one_line_not_a_traceback(capsys, monkeypatch):
    import optuna

    import xsup.tuning

    def failing_study(*args, **kwargs):
        study = optuna.create_study()
        trial = study.ask()
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return study

    monkeypatch.setattr(xsup.tuning, "tune", failing_study)
    assert main(["tune", "--quick", "--trials", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no trial of the study completed (1 trials" in err
