"""Loading files never runs code: weights-only checkpoints, data-only configs, no eval/exec."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from skorch.callbacks import Checkpoint

from xsup import ExplanationSupervisedClassifier
from xsup.cli._arguments import UsageError
from xsup.cli._config import check_config, config_parameters, read_config
from xsup.cli.main import main

PACKAGE = Path(__file__).resolve().parents[1] / "xsup"

rng = np.random.default_rng(0)
X = rng.normal(size=(16, 1, 6, 6)).astype(np.float32)
y = np.arange(16) % 2
E = np.zeros((16, 6, 6), dtype=np.float32)
E[:, :3, :3] = 1

UNPICKLED = []


def _record_unpickling() -> None:
    UNPICKLED.append(True)


class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        return _record_unpickling, ()


def _classifier(**params):
    settings = {"loss": "gradia", "max_epochs": 1, "train_split": None, "verbose": 0,
                "random_state": 0}
    return ExplanationSupervisedClassifier(**{**settings, **params})


@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoint")
    checkpoint = Checkpoint(dirname=str(folder), monitor="train_loss_best")
    model = _classifier(callbacks=[checkpoint]).fit(X, y, E)
    return model, checkpoint, folder


def test_estimators_load_weights_only_by_default(checkpointed, monkeypatch):
    model, checkpoint, _ = checkpointed
    calls = []
    real_load = torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    restored = _classifier(random_state=1).fit(X, y, E)
    restored.load_params(checkpoint=checkpoint)
    assert calls and all(call.get("weights_only") is True for call in calls)
    np.testing.assert_allclose(restored.predict_proba(X), model.predict_proba(X), rtol=1e-6)


def test_a_checkpoint_restores_module_optimizer_and_history(checkpointed):
    model, checkpoint, folder = checkpointed
    assert (folder / "params.pt").exists() and (folder / "optimizer.pt").exists()
    restored = _classifier(random_state=1).fit(X, y, E)
    restored.load_params(checkpoint=checkpoint)
    assert len(restored.history) == len(model.history)
    for saved, loaded in zip(model.optimizer_.state_dict()["state"].values(),
                             restored.optimizer_.state_dict()["state"].values()):
        torch.testing.assert_close(saved["exp_avg"], loaded["exp_avg"])


def test_a_parameter_file_that_would_run_code_is_refused(checkpointed, tmp_path):
    import pickle

    model, _, _ = checkpointed
    path = tmp_path / "params.pt"
    torch.save({"weight": torch.zeros(1), "payload": _RunsCodeWhenUnpickled()}, path)
    UNPICKLED.clear()
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        model.load_params(f_params=str(path))
    assert not UNPICKLED


def test_a_pickled_estimator_round_trips_under_weights_only_loading(checkpointed):
    import pickle

    model, _, _ = checkpointed
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_proba(X), model.predict_proba(X), rtol=1e-6)


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return ""


UNSAFE_CALLS = ("eval", "exec", "builtins.eval", "builtins.exec", "pickle.load", "yaml.load",
                "yaml.unsafe_load", "marshal.loads")


def _is_constant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def unsafe_calls(source: str) -> list[tuple[int, str]]:
    """Calls that run code from a string or a file: eval/exec, pickle and YAML loaders,
    torch.load without weights_only=True, np.load with allow_pickle other than False."""
    found = []
    for call in _calls(ast.parse(source)):
        name = _name(call.func)
        keywords = {k.arg: k.value for k in call.keywords}
        if (
            name in UNSAFE_CALLS
            or (name == "torch.load" and not _is_constant(keywords.get("weights_only"), True))
            or (name.endswith(("np.load", "numpy.load")) and "allow_pickle" in keywords
                and not _is_constant(keywords["allow_pickle"], False))
        ):
            found.append((call.lineno, name))
    return found


def test_the_package_never_calls_eval_exec_or_unsafe_loaders():
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line} {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, name in unsafe_calls(path.read_text())
    ]
    assert not offences, offences


def test_the_scan_finds_what_it_looks_for():
    source = (
        "import numpy as np\n"
        "eval('1')\n"
        "exec('x = 1')\n"
        "np.load('x.npy', allow_pickle=True)\n"
        "np.load('x.npy')\n"
        "torch.load('m.pt')\n"
        "torch.load('m.pt', weights_only=True)\n"
        "model.eval()\n"
        "yaml.safe_load('a: 1')\n"
    )
    assert unsafe_calls(source) == [(2, "eval"), (3, "exec"), (4, "np.load"), (6, "torch.load")]


# ---------------------------------------------------------------- --config files


def test_a_json_config_is_read_as_data(tmp_path):
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"sigma1": 2.5, "lr": 0.01, "loss__gamma": 3}))
    assert read_config(path) == {"sigma1": 2.5, "lr": 0.01, "loss__gamma": 3}


def test_a_yaml_config_uses_safe_load(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "params.yaml"
    path.write_text("sigma1: 2.5\nexplainer: gradient\n")
    assert read_config(path) == {"sigma1": 2.5, "explainer": "gradient"}
    path.write_text("sigma1: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(UsageError, match=r"--config .*params.yaml: not valid YAML"):
        read_config(path)


def test_yaml_without_pyyaml_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    path = tmp_path / "params.yml"
    path.write_text("sigma1: 2.5\n")
    with pytest.raises(UsageError, match=r"reading YAML needs PyYAML \(pip install pyyaml\)"):
        read_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "expected a mapping of estimator parameters"),
        ("{'sigma1': 2}", "not valid JSON"),
        ('__import__("os").getcwd()', "not valid JSON"),
    ],
)
def test_a_config_that_is_not_a_json_mapping_is_refused(tmp_path, text, message):
    path = tmp_path / "params.json"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        read_config(path)


def test_config_parameters_are_the_plain_estimator_parameters():
    names = config_parameters(ExplanationSupervisedClassifier)
    assert {"sigma1", "sigma2", "alpha", "k", "lr", "loss", "max_epochs"} <= set(names)
    assert not {"callbacks", "torch_load_kwargs", "optimizer", "criterion"} & set(names)


def test_config_values_reach_the_estimator():
    model = check_config({"sigma1": 2.5, "loss__gamma": 3.0}, ExplanationSupervisedClassifier,
                         {"loss": "res", "max_epochs": 1}, Path("params.json"))
    assert (model.loss, model.sigma1, model.loss__gamma, model.max_epochs) == ("res", 2.5, 3.0, 1)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"sigmaa": 1.0}, r"unknown parameter 'sigmaa'; valid parameters: alpha, .*sigma1"),
        ({"loss__gama": 1.0}, r"loss__gama: not a parameter of loss 'res' .*gamma"),
        ({"optimizer__momentum": 0.9}, r"optimizer='Adam' refuses optimizer__momentum=0.9"),
        ({"optimizer__weight_decay": "abc"}, r"optimizer='Adam' refuses optimizer__weight_decay"),
        ({"module__hiden": 3}, r"module__hiden: not a parameter of module 'cnn_gru' .*hidden"),
        ({"device": "mps"}, r"device must be .*available here.*got 'mps'"),
        ({"predict_nonlinearity": "softmaxx"}, r"predict_nonlinearity must be 'auto', None or"),
        ({"iterator_train__shufle": True}, r"unknown parameter 'iterator_train__shufle'"),
        ({"callbacks": []}, "unknown parameter 'callbacks'"),
        ({"torch_load_kwargs": {"weights_only": False}}, "unknown parameter 'torch_load_kwargs'"),
        ({"lr": 0}, "lr must be a positive finite number; got 0"),
        ({"loss": "gradcam"}, "'gradcam' is a plugin of kind 'explainers', not 'losses'"),
    ],
)
def test_bad_config_parameters_are_named(config, message):
    with pytest.raises(UsageError, match=message):
        check_config(config, ExplanationSupervisedClassifier, {"loss": "res"}, Path("p.json"),
                     input_kind="raster_sequences")


@pytest.mark.parametrize("command", ["tune", "demo"])
@pytest.mark.parametrize("config", [{"sigma1": -1}, {"optimizer__weight_decay": "abc"},
                                    {"module__hiden": 3}, {"device": "mps"}])
def test_the_commands_refuse_a_bad_config_on_one_line_before_training(command, config, tmp_path,
                                                                      capsys):
    path = tmp_path / "params.json"
    path.write_text(json.dumps(config))
    assert main([command, "--quick", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"xsup {command}: error: --config")
    assert next(iter(config)) in err[0]
    assert "training" not in captured.out  # refused before any model was trained
