"""The plugin registry: built-ins, the example third-party plugin, errors, run-time registration,
broken third-party distributions and the autoload switch."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
import tomllib
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from xsup import ExplanationSupervisedClassifier, plugins
from xsup.base import ExplanationLoss
from xsup.batch import ExplanationBatch
from xsup.explainers import GradCAM
from xsup.losses import GradiaLoss
from xsup.plugins import PluginLoadError, PluginNotFoundError, PluginWarning

REPOSITORY = Path(__file__).resolve().parents[1]
EXAMPLE_DISTRIBUTION = "xsup-energy-loss"
EXAMPLE_PATH = "plugins/xsup-energy-loss"
FAKE_ORIGIN = "fake-broken 0.1"


@pytest.fixture(autouse=True)
def fresh_registry():
    """Every test starts from freshly read entry points and leaves no registration behind."""
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture
def example_plugin() -> importlib.metadata.Distribution:
    """The example third-party plugin's distribution; fails (never skips) when it is not installed."""
    try:
        return importlib.metadata.distribution(EXAMPLE_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(
            f"The example plugin {EXAMPLE_DISTRIBUTION!r} is not installed, so xsup cannot find it "
            f"through its entry point. Install it first: pip install -e {EXAMPLE_PATH}",
            pytrace=False,
        )


@pytest.fixture
def broken_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake installed distribution whose loss plugins are broken, put on ``sys.path``.

    ``broken`` fails to import, ``notaloss`` is not an ExplanationLoss, and
    ``gradia`` clashes with the built-in of that name.
    """
    info = tmp_path / "fake_broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[xsup.losses]\n"
        "broken = fake_broken_mod:Missing\n"
        "notaloss = fake_mod:NotALoss\n"
        "gradia = fake_mod:NotALoss\n"
        "exits = fake_exit_mod:Loss\n"
        "needsdep = fake_mod:NeedsDependency\n"
    )
    (tmp_path / "fake_broken_mod.py").write_text(
        "raise ImportError('fake_broken_mod needs a library that is not installed')\n"
    )
    (tmp_path / "fake_exit_mod.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "fake_mod.py").write_text(
        "from xsup.losses import GradiaLoss\n"
        "class NotALoss:\n    pass\n"
        "class NeedsDependency(GradiaLoss):\n"
        "    requires = {'no_such_module_for_xsup': 'no-such-package>=1'}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset()
    yield tmp_path
    for module in ("fake_broken_mod", "fake_mod", "fake_exit_mod"):
        sys.modules.pop(module, None)


def _fake_task(n_samples: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tiny image task: the class is the sign of the top-left quadrant, which E marks."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_samples, 1, 8, 8)).astype("float32")
    y = (X[:, 0, :4, :4].mean(axis=(1, 2)) > 0).astype(int)
    E = np.zeros((n_samples, 8, 8), dtype="float32")
    E[:, :4, :4] = 1.0
    return X, y, E


def _tiny_classifier(**kwargs) -> ExplanationSupervisedClassifier:
    options = dict(max_epochs=2, batch_size=12, train_split=None, verbose=0, random_state=0)
    return ExplanationSupervisedClassifier(**{**options, **kwargs})


# ---------------------------------------------------------------------- built-ins
def test_builtins_are_listed_with_their_origin() -> None:
    for kind, table in plugins.BUILTINS.items():
        origins = plugins.available(kind, with_origin=True)
        for name in table:
            assert origins.get(name) == "xsup (built-in)", f"{kind} {name!r}: {origins.get(name)!r}"


def test_builtin_table_matches_the_package_entry_points() -> None:
    pyproject = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]
    for kind, spec in plugins.KINDS.items():
        assert declared.get(spec.group, {}) == plugins.BUILTINS[kind], (
            f"pyproject's [project.entry-points.{spec.group!r}] and xsup.plugins.BUILTINS[{kind!r}] "
            "differ"
        )


# ---------------------------------------------------------------------- the example third-party plugin
def test_example_plugin_is_found_through_its_entry_point(
    example_plugin: importlib.metadata.Distribution,
) -> None:
    declared = {ep.name: ep.value for ep in example_plugin.entry_points if ep.group == "xsup.losses"}
    assert declared == {"energy": "xsup_energy_loss:EnergyPointingLoss"}
    origins = plugins.available("losses", with_origin=True)
    assert origins.get("energy") == f"{EXAMPLE_DISTRIBUTION} {example_plugin.version}"
    loss = plugins.get("losses", "energy")
    assert loss.__name__ == "EnergyPointingLoss" and loss.__module__.startswith("xsup_energy_loss")


def test_estimator_trains_with_the_example_plugin_by_name(
    example_plugin: importlib.metadata.Distribution,
) -> None:
    X, y, E = _fake_task()
    clf = _tiny_classifier(loss="energy").fit(X, y, E)
    assert type(clf.loss_) is plugins.get("losses", "energy")
    explanation = clf.history[:, "train_explanation"]
    assert len(explanation) == 2
    assert all(np.isfinite(value) and value > 0 for value in explanation), explanation


# ---------------------------------------------------------------------- lookup errors
def test_unknown_name_suggests_close_names_and_lists_available_ones() -> None:
    with pytest.raises(PluginNotFoundError) as error:
        plugins.get("losses", "gradai")
    message = str(error.value)
    assert "Did you mean 'gradia'" in message
    assert "Available losses:" in message
    for name in plugins.available("losses"):
        assert name in message
    assert isinstance(error.value, ValueError)


def test_estimator_reports_an_unknown_loss_name() -> None:
    X, y, E = _fake_task(8)
    with pytest.raises(PluginNotFoundError, match="Did you mean 'gradia'"):
        _tiny_classifier(loss="gradai").fit(X, y, E)


def test_name_of_another_kind_says_which_kind_it_is() -> None:
    with pytest.raises(PluginNotFoundError, match="'gradcam' is a plugin of kind 'explainers'"):
        plugins.get("losses", "gradcam")


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        plugins.available("loss")


# ---------------------------------------------------------------------- run-time registration
class CountingLoss(GradiaLoss):
    """GRADIA that counts its calls, to see the estimator use it."""

    calls: ClassVar[int] = 0

    def forward(self, batch: ExplanationBatch) -> torch.Tensor:
        type(self).calls += 1
        return super().forward(batch)


def test_registered_loss_is_used_by_name() -> None:
    plugins.register("losses", "counting", CountingLoss)
    assert plugins.available("losses", with_origin=True)["counting"] == "registered at run time"
    CountingLoss.calls = 0
    X, y, E = _fake_task()
    clf = _tiny_classifier(loss="counting").fit(X, y, E)
    assert type(clf.loss_) is CountingLoss
    assert CountingLoss.calls == 4  # 2 epochs of 2 batches
    assert all(np.isfinite(clf.history[:, "train_explanation"]))


def test_register_rejects_what_is_not_a_plugin_of_that_kind() -> None:
    with pytest.raises(TypeError, match="not a subclass"):
        plugins.register("losses", "plain", object)
    with pytest.raises(TypeError, match="not a subclass"):
        plugins.register("losses", "explainer_as_loss", GradCAM)
    with pytest.raises(TypeError, match="abstract"):
        plugins.register("losses", "abstract", ExplanationLoss)
    with pytest.raises(ValueError, match="built-in"):
        plugins.register("losses", "gradia", CountingLoss)
    assert {"plain", "explainer_as_loss", "abstract"}.isdisjoint(plugins.available("losses"))


# ---------------------------------------------------------------------- broken third-party distributions
def test_broken_plugins_are_reported_and_skipped(broken_distribution: Path) -> None:
    with pytest.warns(PluginWarning) as record:
        names = plugins.available("losses")
    messages = [str(warning.message) for warning in record]
    assert "broken" not in names and "notaloss" not in names
    assert set(plugins.BUILTINS["losses"]) <= set(names)

    def reported(*parts: str) -> bool:
        return any(all(part in message for part in parts) for message in messages)

    assert reported("'broken'", FAKE_ORIGIN, "ImportError", "needs a library"), messages
    assert reported("'notaloss'", FAKE_ORIGIN, "not a subclass"), messages
    assert reported("'exits'", FAKE_ORIGIN, "SystemExit: 3"), messages
    assert reported("'gradia'", FAKE_ORIGIN, "already taken", "xsup (built-in)"), messages
    assert plugins.get("losses", "gradia") is GradiaLoss


def test_broken_plugin_used_by_name_names_plugin_and_distribution(broken_distribution: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        with pytest.raises(PluginLoadError, match=f"'broken' from {FAKE_ORIGIN}") as error:
            plugins.get("losses", "broken")
        assert isinstance(error.value.__cause__, ImportError)
        with pytest.raises(PluginLoadError, match=f"'notaloss' from {FAKE_ORIGIN}.*not a subclass"):
            plugins.get("losses", "notaloss")
        X, y, E = _fake_task(8)
        with pytest.raises(PluginLoadError, match="'broken'"):
            _tiny_classifier(loss="broken").fit(X, y, E)


def test_plugin_calling_sys_exit_at_import_cannot_stop_the_listing(
    broken_distribution: Path, capsys: pytest.CaptureFixture
) -> None:
    from xsup.cli.main import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        assert "exits" not in plugins.available("losses")
        with pytest.raises(PluginLoadError, match="'exits' from .*SystemExit: 3"):
            plugins.get("losses", "exits")
    assert main(["plugins", "--kind", "losses"]) == 0
    out = capsys.readouterr().out
    assert any(line.split()[1] == "exits" and "unavailable: import of" in line
               for line in out.splitlines()[1:])


def test_plugins_with_a_missing_dependency_are_unavailable_not_listed(
    broken_distribution: Path, capsys: pytest.CaptureFixture
) -> None:
    from xsup.cli.main import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        assert "needsdep" not in plugins.available("losses")
        reason = plugins.unavailable("losses")["needsdep"]
        with pytest.raises(PluginLoadError, match="needs 'no_such_module_for_xsup'"):
            plugins.get("losses", "needsdep")
    assert reason.startswith(FAKE_ORIGIN)
    assert "needs 'no_such_module_for_xsup', which is not installed" in reason
    assert 'pip install "no-such-package>=1"' in reason
    assert main(["plugins", "--kind", "losses"]) == 0
    rows = {line.split()[1]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["gradia"].endswith("usable")
    assert "unavailable: needs 'no_such_module_for_xsup'" in rows["needsdep"]


def test_unknown_name_lists_usable_plugins_and_names_the_unusable_ones(
    broken_distribution: Path,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        with pytest.raises(PluginNotFoundError) as error:
            plugins.get("losses", "nope")
    message = str(error.value)
    available = message.split("Available losses: ")[1].split(".")[0].split(", ")
    assert "gradia" in available
    assert not {"broken", "exits", "needsdep", "notaloss"} & set(available)
    assert "Not usable: broken, exits, needsdep, notaloss (see xsup plugins)" in message


def test_captum_explainers_are_unavailable_without_captum(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import importlib.util

    from xsup.cli.main import main

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "captum" else find_spec(name, *args))
    plugins.reset()
    names = plugins.available("explainers")
    assert {"gradcam", "gradient", "tsr", "random"} <= set(names)
    assert not {"smoothgrad", "integrated_gradients", "occlusion"} & set(names)
    assert main(["plugins", "--kind", "explainers"]) == 0
    rows = {line.split()[1]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert 'unavailable: needs \'captum\', which is not installed (pip install "xsup[explain]")' in (
        rows["smoothgrad"])


def test_import_xsup_survives_broken_plugins(broken_distribution: Path) -> None:
    script = textwrap.dedent(
        """
        import xsup
        from xsup import plugins
        names = plugins.available("losses")
        assert "gradia" in names and "broken" not in names, names
        print("usable:", names)
        """
    )
    environment = {**os.environ, "PYTHONPATH": str(broken_distribution)}
    environment.pop("XSUP_DISABLE_PLUGIN_AUTOLOAD", None)
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", script],
        capture_output=True, text=True, env=environment, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usable:" in result.stdout
    assert "PluginWarning" in result.stderr and FAKE_ORIGIN in result.stderr


# ---------------------------------------------------------------------- autoload switch
def test_autoload_switch_hides_third_party_plugins_but_keeps_builtins(
    example_plugin: importlib.metadata.Distribution,
    broken_distribution: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XSUP_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)  # the broken distribution is not even read
        origins = plugins.available("losses", with_origin=True)
    assert set(origins) == set(plugins.BUILTINS["losses"])
    assert set(origins.values()) == {"xsup (built-in)"}
    with pytest.raises(PluginNotFoundError):
        plugins.get("losses", "energy")

    monkeypatch.setenv("XSUP_DISABLE_PLUGIN_AUTOLOAD", "0")
    plugins.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        assert "energy" in plugins.available("losses")
