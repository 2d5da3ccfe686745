"""Opening a study: created by the first worker, joined by the others, read while they run."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import optuna

from xsup.tuning._storage import (
    connect,
    describe_storage,
    resolve_storage,
    with_retries,
)

__all__ = ["load_study", "open_study"]


def open_study(
    storage: Any,
    study_name: str | None,
    directions: Sequence[str],
    *,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    metric_names: Sequence[str] | None = None,
    user_attrs: dict[str, Any] | None = None,
) -> optuna.Study:
    """Create the study, or join it when another worker created it first.

    A joined study must have the same ``directions``; ``metric_names`` and
    the ``user_attrs`` the study does not hold yet are stored by the first
    worker that gets there.

    Raises
    ------
    ValueError
        The stored study optimises other directions, or the storage fails.
    """
    study = with_retries(
        lambda: optuna.create_study(
            storage=storage, study_name=study_name, directions=list(directions),
            sampler=sampler, pruner=pruner, load_if_exists=True,
        ),
        storage,
    )
    stored = [direction.name.lower() for direction in study.directions]
    if stored != list(directions):
        raise ValueError(
            f"study_name {study.study_name!r} in storage {describe_storage(storage)} optimises "
            f"{stored}, but the scoring asks for {list(directions)}; choose another study_name."
        )
    if metric_names is not None and study.metric_names is None:
        with warnings.catch_warnings():  # Optuna marks metric names experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            with_retries(lambda: study.set_metric_names(list(metric_names)), storage)
    missing = {key: value for key, value in (user_attrs or {}).items()
               if key not in study.user_attrs}
    for key, value in missing.items():
        with_retries(lambda key=key, value=value: study.set_user_attr(key, value), storage)
    return study


def load_study(storage: Any, study_name: str = "xsup-tune") -> optuna.Study:
    """Open a stored study to read it, also while workers are still creating it.

    Parameters
    ----------
    storage : str, os.PathLike or optuna storage
        As in :func:`resolve_storage`.
    study_name : str, default="xsup-tune"
        The name ``tune`` stores studies under unless told otherwise.

    Returns
    -------
    optuna.Study

    Raises
    ------
    KeyError
        The storage holds no study of that name (yet).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "search.db"
    >>> load_study(path)
    Traceback (most recent call last):
    ...
    KeyError: "no study named 'xsup-tune' in storage ...; it holds none."
    """
    resolved = resolve_storage(storage)
    if isinstance(resolved, str):
        resolved = connect(resolved)
    try:
        return with_retries(
            lambda: optuna.load_study(study_name=study_name, storage=resolved), resolved
        )
    except KeyError:
        names = optuna.get_all_study_names(resolved)
        raise KeyError(
            f"no study named {study_name!r} in storage {describe_storage(resolved)}; it holds "
            f"{', '.join(repr(name) for name in names) or 'none'}."
        ) from None
