"""The project's estimator: its parameters in ``estimator.json``, and a model fitted elsewhere.

``estimator.json`` holds ``{"estimator": "classifier" | "regressor", "params":
{...}}``: the arguments of :class:`~xsup.ExplanationSupervisedClassifier` (or
the regressor) as JSON values. It is data, never code. A model fitted
outside the app goes in ``model/`` as skorch parameter files written by
``save_params`` (``params.pt``, loaded with ``torch.load(weights_only=True)``),
never as a pickle (see :func:`load_model`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from xsup.app._files import write_atomic, write_json
from xsup.app._project import Project

__all__ = ["DEFAULT_ESTIMATOR", "ESTIMATORS", "add_model", "build_estimator", "load_model",
           "set_estimator"]

#: What a new project trains until ``set_estimator`` says otherwise.
DEFAULT_ESTIMATOR = {"estimator": "classifier",
                     "params": {"loss": "rrr", "max_epochs": 10, "random_state": 0}}

#: Estimator classes a project can name.
ESTIMATORS = ("classifier", "regressor")

#: Parameters a project file cannot set: the app supplies them, or they loosen file loading.
_NOT_STORED = ("callbacks", "torch_load_kwargs", "verbose")


def _estimator_class(name: str) -> type:
    from xsup import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor

    return {"classifier": ExplanationSupervisedClassifier,
            "regressor": ExplanationSupervisedRegressor}[name]


def set_estimator(path: str | os.PathLike[str], estimator: Any) -> dict[str, Any]:
    """Store an (unfitted) estimator's parameters as the one the project's rounds train.

    Parameters
    ----------
    path : path-like
        A project folder.
    estimator : ExplanationSupervisedClassifier or ExplanationSupervisedRegressor
        Its parameters that differ from the defaults are stored; each must be
        a JSON value (a plugin or backbone given by name, not as an object).

    Returns
    -------
    dict
        What ``estimator.json`` now holds.

    Raises
    ------
    TypeError
        ``estimator`` is not an xsup estimator, or a parameter is not a JSON value.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from xsup import ExplanationSupervisedClassifier
    >>> from xsup.app import create_project, set_estimator
    >>> folder = create_project(tempfile.mkdtemp() + "/p", np.zeros((4, 3)), y=[0, 1, 0, 1])
    >>> set_estimator(folder, ExplanationSupervisedClassifier(loss="gradia", max_epochs=3))
    {'estimator': 'classifier', 'params': {'loss': 'gradia', 'max_epochs': 3}}
    """
    project = Project(path)
    name = next((key for key in ESTIMATORS if type(estimator) is _estimator_class(key)), None)
    if name is None:
        raise TypeError("estimator must be an ExplanationSupervisedClassifier or "
                        f"ExplanationSupervisedRegressor; got {type(estimator).__name__}.")
    defaults = type(estimator)().get_params(deep=False)
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in _NOT_STORED or _same(value, defaults.get(key, object())):
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise TypeError(f"estimator parameter {key}={value!r} cannot be stored in the project: "
                            "only JSON values (numbers, strings, lists, null) can; name plugins "
                            "and backbones by their registered names.") from None
        params[key] = value
    config = {"estimator": name, "params": dict(sorted(params.items()))}
    write_json(project.path / "estimator.json", config)
    return config


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError):
        return False


def build_estimator(project: Project, config: dict[str, Any] | None = None,
                    **overrides: Any) -> Any:
    """A new estimator from ``config`` (default: the project's ``estimator.json``), with ``overrides``.

    Raises
    ------
    ValueError
        The configuration names an unknown estimator or a parameter the estimator does not take.
    """
    config = project.estimator_config() if config is None else config
    name = config.get("estimator", "classifier") if isinstance(config, dict) else None
    params = config.get("params", {}) if isinstance(config, dict) else None
    where = project.path / "estimator.json"
    if name not in ESTIMATORS or not isinstance(params, dict):
        raise ValueError(f"{where} must hold {{\"estimator\": \"classifier\" | \"regressor\", "
                         f"\"params\": {{...}}}}; got {config!r}.")
    refused = sorted(set(params) & set(_NOT_STORED))
    if refused:
        raise ValueError(f"{where}: parameter {refused[0]!r} cannot be set from a project file.")
    cls = _estimator_class(name)
    try:
        return cls(**{**params, **overrides})
    except TypeError as error:
        raise ValueError(f"{where}: {error}") from None


def add_model(path: str | os.PathLike[str], estimator: Any) -> Path:
    """Put a model fitted outside the app into the project, for review.

    Stores the estimator's parameters (:func:`set_estimator`) and its learned
    state as skorch parameter files in ``model/`` (module, loss and
    interpolator; no pickle). A review round then computes its saliency maps.

    Parameters
    ----------
    path : path-like
        A project folder.
    estimator : ExplanationSupervisedClassifier or ExplanationSupervisedRegressor
        Fitted on data shaped like the project's X.

    Returns
    -------
    pathlib.Path
        The ``model`` folder.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    project = Project(path)
    if tuple(estimator.input_spec_.sample_shape) != project.sample_shape:
        raise ValueError("estimator was fitted on samples of shape "
                         f"{estimator.input_spec_.sample_shape}; the project's samples have shape "
                         f"{project.sample_shape}.")
    set_estimator(path, type(estimator)(**estimator.get_params(deep=False)))
    folder = project.path / "model"
    folder.mkdir(exist_ok=True)
    for key, name in (("f_params", "params.pt"), ("f_loss", "loss.pt"),
                      ("f_interpolator", "interpolator.pt")):
        write_atomic(folder / name, lambda file, key=key: estimator.save_params(**{key: file}))
    return folder


def load_model(project: Project, folder: Path) -> Any:
    """The fitted estimator stored in ``folder`` (``model/`` or a round's model).

    ``params.pt`` (with ``loss.pt`` and ``interpolator.pt`` when present) is
    loaded into a new estimator built from ``estimator.json``, through
    skorch's ``load_params``, which uses ``torch.load(weights_only=True)``:
    tensors only, no code runs. Pickled estimators are not read: unpickling
    a file runs code from it.
    """
    if project.y is None:
        raise ValueError("loading model/params.pt needs the project's labels y (they give the "
                         "classes and the network's outputs).")
    net = build_estimator(project, max_epochs=0, train_split=None, verbose=0, warm_start=False)
    X = np.asarray(project.X[:2])
    y = project.y
    E = np.full((len(X), *project.annotation_shape), np.nan, dtype=np.float32)
    if _estimator_class("classifier") is type(net):
        net.partial_fit(X, y[: len(X)], E, classes=np.unique(y))
    else:
        net.partial_fit(X, y[: len(X)], E)
    files = {"f_params": folder / "params.pt"}
    for key, name in (("f_loss", "loss.pt"), ("f_interpolator", "interpolator.pt")):
        if (folder / name).is_file():
            files[key] = folder / name
    net.load_params(**files)
    return net
