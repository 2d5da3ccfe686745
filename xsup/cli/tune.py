"""``xsup tune``: an Optuna search of an explanation loss's hyperparameters on a data set."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

from xsup.cli._arguments import UsageError, non_negative_int, positive_int
from xsup.cli._config import check_config, read_config

__all__ = ["DATASETS", "PLUGIN_OPTIONS", "add_parser", "load_data", "run"]

#: Built-in data sets: name -> (full size, --quick size).
DATASETS = {"events": (240, 60), "digits": (0, 0), "ts": (400, 80)}

#: Options naming a plugin other than the loss: option -> plugin kind.
PLUGIN_OPTIONS = {"explainer": "explainers", "interpolator": "interpolators", "module": "modules"}


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Declare ``xsup tune [--data NAME | --npz FILE] [--loss L] [--config FILE] ...``."""
    parser = commands.add_parser(
        "tune",
        help="search a loss's hyperparameters (sigma1, sigma2, alpha, k, ...) with Optuna",
        description="Cross-validated Optuna search over the hyperparameters the chosen loss "
        "declares, on a built-in data set or a .npz file holding X, y and optionally E. "
        "Prints the best parameters; with --out, writes the study's plots (needs matplotlib). "
        "With --storage (a .db SQLite file, a .journal file or a database URL such as "
        "postgresql+psycopg://user@host/db), re-running resumes the study, and any number of "
        "processes, on one machine or many, can run it together: start the same command on "
        "each. It prints the optuna-dashboard command that shows the study.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--data", choices=sorted(DATASETS), default="events",
        help="built-in data set: spatio-temporal events, decoy digits or the time-series "
        "benchmark (default: events)",
    )
    source.add_argument("--npz", type=Path, help=".npz file with arrays X, y and optionally E")
    parser.add_argument("--loss", default=None,
                        help="loss plugin (default: the --config file's loss, else res)")
    for option, kind in PLUGIN_OPTIONS.items():
        parser.add_argument(f"--{option}", default=None, metavar="NAME",
                            help=f"{option} plugin (see 'xsup plugins --kind {kind}'; default: "
                            "the --config file's, else the estimator's)")
    parser.add_argument("--trials", type=positive_int, default=20,
                        help="target number of finished trials in the study (default: 20)")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help="training epochs per fit (default: 10, 2 with --quick)")
    parser.add_argument("--cv", type=positive_int, default=3, help="CV folds (default: 3)")
    parser.add_argument("--storage",
                        help="SQLite file (.db), journal file (.journal) or database URL")
    parser.add_argument("--study-name", default=None,
                        help="study name in the storage (default: xsup-tune)")
    parser.add_argument("--heartbeat", type=non_negative_int, default=None, metavar="SECONDS",
                        help="seconds between the heartbeats of a running trial in a SQLite or "
                        "database storage; a trial silent for twice as long (its worker died) "
                        "is marked FAIL and retried (default: 60; 0: off)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="random seed; trial n samples from a seed derived from it and n, so "
                        "a resumed study or several workers never repeat a trial (default: 0)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the study's plots")
    parser.add_argument("--quick", action="store_true",
                        help="small data and few epochs, for a quick check")
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="JSON (or YAML, with PyYAML) file of estimator parameters, e.g. "
                        '{"lr": 0.003, "loss__gamma": 5}; command-line options win over it')
    parser.set_defaults(run=run)
    return parser


def load_data(name: str | None, npz: Path | None, *, quick: bool, seed: int) -> tuple[Any, Any, Any]:
    """``(X, y, E)`` of a built-in data set or a ``.npz`` file (E None when absent).

    The box annotations of ``events`` and ``ts`` get ``-1`` (should not
    matter) outside the box, since losses such as HAICS and RES only
    penalise annotated cells; ``digits`` already marks its decoy with ``-1``.
    """
    import numpy as np

    if npz is not None:
        return _read_npz(npz)
    from xsup import datasets

    size = DATASETS[name][1 if quick else 0]
    if name == "events":
        X, y, E = datasets.make_spatiotemporal_events(size, random_state=seed, positive_rate=0.5)
    elif name == "ts":
        X, y, E, _ = datasets.make_ts_benchmark(
            "small_middle", n_samples=size, random_state=seed,
            **({"n_steps": 20, "n_features": 20} if quick else {}),
        )
    else:  # strokes 1, decoy -1: negatives already present
        X, y, E, *_ = datasets.load_decoy_digits(random_state=seed,
                                                 **({"train_size": 150} if quick else {}))
        return X, y, E
    return X, y, np.where(E > 0, 1.0, np.where(np.isnan(E), np.nan, -1.0)).astype("float32")


def _read_npz(npz: Path) -> tuple[Any, Any, Any]:
    """``X``, ``y`` and ``E`` (None when absent) of a .npz file; pickled objects are refused."""
    import zipfile

    import numpy as np

    try:
        archive = np.load(npz, allow_pickle=False)
    except OSError as error:
        reason = error.strerror or error
        raise UsageError(f"--npz {npz}: cannot read the file ({reason}).") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as error:
        if "pickle" in str(error):  # anything but .npy/.npz is taken for a pickle by numpy
            raise UsageError(f"--npz {npz}: not a .npz archive (files that would need "
                             "unpickling are refused).") from None
        raise UsageError(f"--npz {npz}: not a readable .npz file ({error}).") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise UsageError(f"--npz {npz}: expected a .npz archive of arrays named X, y (and E); "
                         f"got a single array of shape {archive.shape}.")
    with archive:
        missing = [key for key in ("X", "y") if key not in archive]
        if missing:
            raise UsageError(f"--npz {npz}: missing array(s) {', '.join(missing)}; "
                             f"found {', '.join(archive.files) or 'none'}.")
        try:
            return archive["X"], archive["y"], archive["E"] if "E" in archive else None
        except (ValueError, OSError, zipfile.BadZipFile) as error:
            raise UsageError(f"--npz {npz}: not a readable .npz file ({error}).") from None


def _check_data(X: Any, y: Any, E: Any, source: str) -> None:
    """The checks ``fit`` makes on X, y and E, run once before the study starts."""
    from xsup.spec import KIND_BY_NDIM, InputSpec
    from xsup.validation import check_annotation, check_consistent_samples, check_input

    try:
        X = check_input(X)
        check_consistent_samples(X, y=y, E=E)
        spec = InputSpec(KIND_BY_NDIM[X.ndim], tuple(X.shape[1:]), n_outputs=2)
        check_annotation(E, X, spec)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{source}: {error}") from None


def _check_out(out: Path) -> None:
    """Refuse an ``--out`` that cannot become a folder, before any work is done."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                what = "" if path == out else f" ({path} is a file)"
                raise UsageError(f"--out {out}: expected a folder for the plots; it is a "
                                 f"file{what}.")
            return


def _plugin_names(args: argparse.Namespace, config: dict[str, Any]) -> dict[str, Any]:
    """The loss and other plugins named on the command line, checked against the registry."""
    from xsup import plugins

    names: dict[str, Any] = {}
    for option, kind in {"loss": "losses", **PLUGIN_OPTIONS}.items():
        name = getattr(args, option)
        if option == "loss" and name is None:
            name = config.get("loss", "res")
            where = f"--config {args.config}: loss" if "loss" in config else "--loss"
        else:
            where = f"--{option}"
        if name is None:
            continue
        if name != "auto":
            try:
                plugins.plugin_class(kind, name)
            except (ValueError, ImportError) as error:  # unknown name (with hints), or broken
                raise UsageError(f"{where} {name!r}: {error}") from None
        names[option] = name
    return names


def _dashboard_hint(storage: str) -> str | None:
    """The line telling how to watch the study in a browser."""
    import importlib.util

    from xsup.tuning._storage import dashboard_command

    command = dashboard_command(storage)
    if command is None:
        return None
    if importlib.util.find_spec("optuna_dashboard") is None:
        command += '   (pip install "xsup[dashboard]")'
    return f"dashboard: {command}"


def _write_plots(study: Any, out: Path) -> list[Path]:
    """The optimisation history and parameter importances as PNG files (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    out.mkdir(parents=True, exist_ok=True)
    written = []
    figures = [("optimization_history.png", plots.plot_optimization_history)]
    if len(study.trials) > 1 and len(study.best_params) > 1:
        figures.append(("param_importances.png", plots.plot_param_importances))
    for filename, plot in figures:
        with warnings.catch_warnings():  # optuna flags its matplotlib plots as experimental
            warnings.simplefilter("ignore")
            axes = plot(study)
        path = out / filename
        axes.figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(axes.figure)
        written.append(path)
    return written


def run(args: argparse.Namespace) -> int:
    """Run the search and print the best parameters (and where the plots went)."""
    import importlib.util

    try:
        from xsup.tuning import tune
    except ImportError as error:
        raise UsageError(str(error)) from None

    import optuna

    from xsup import ExplanationSupervisedClassifier

    if args.out is not None:
        _check_out(args.out)
    config = read_config(args.config) if args.config is not None else {}
    names = _plugin_names(args, config)
    loss = names["loss"]
    _check_storage(args.storage, args.heartbeat)
    X, y, E = load_data(None if args.npz else args.data, args.npz, quick=args.quick, seed=args.seed)
    _check_data(X, y, E, f"--npz {args.npz}" if args.npz else f"--data {args.data}")
    base: dict[str, Any] = {
        "loss": loss, "max_epochs": 2 if args.quick else 10, "train_split": None, "verbose": 0,
        "random_state": args.seed,
    }
    if loss == "res" and getattr(X, "ndim", 0) < 4:  # its Gaussian imputation needs 2-D maps
        base["loss__imputation"] = "none"
    config = {**config, **names}
    if args.epochs is not None:
        config["max_epochs"] = args.epochs
    from xsup.spec import KIND_BY_NDIM

    net = check_config(config, ExplanationSupervisedClassifier, base, args.config,
                       input_kind=KIND_BY_NDIM.get(getattr(X, "ndim", 0)))
    storage = _open_storage(args.storage, args.heartbeat)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial is reported below
    hint = _dashboard_hint(args.storage) if args.storage is not None else None
    if hint is not None:
        print(hint, flush=True)
    try:
        study = tune(net, X, y, E, n_trials=args.trials, cv=args.cv, scoring="accuracy",
                     storage=storage, study_name=args.study_name, random_state=args.seed)
    except ValueError as error:
        raise UsageError(str(error)) from None
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not completed:
        failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
        reason = failed[-1].system_attrs.get("fail_reason", "no reason recorded") if failed else ""
        raise UsageError(f"no trial of the study completed ({len(study.trials)} trials"
                         f"{', the last failure: ' + reason if reason else ''}).")
    print(f"trials: {len(study.trials)}  best score: {study.best_value:.4f}")
    for name, value in sorted(study.best_params.items()):
        print(f"{name} = {value:.6g}" if isinstance(value, float) else f"{name} = {value}")
    if args.out is not None:
        if importlib.util.find_spec("matplotlib") is None:
            print("plots skipped: matplotlib is not installed")
        else:
            for path in _write_plots(study, args.out):
                print(f"wrote {path}")
    return 0


def _check_storage(storage: str | None, heartbeat: int | None) -> None:
    """``--storage`` and ``--heartbeat`` checked without opening anything."""
    from xsup.tuning._storage import SQLITE_SUFFIXES, check_location

    location = None
    if storage is not None:
        try:
            location = check_location(storage)
        except (ValueError, TypeError) as error:
            raise UsageError(f"--{error}") from None
    beats = location is not None and ("://" in location or location.endswith(SQLITE_SUFFIXES))
    if heartbeat and not beats:
        raise UsageError(f"--heartbeat {heartbeat}: needs --storage naming a SQLite file (.db) "
                         "or a database URL, where heartbeats are recorded.")


def _open_storage(storage: str | None, heartbeat: int | None) -> Any:
    """The storage ``--storage`` names, connected (a database's tables created)."""
    from xsup.tuning._storage import storage_for_tune

    interval = {None: "auto", 0: None}.get(heartbeat, heartbeat)
    try:
        return storage_for_tune(storage, heartbeat_interval=interval)
    except (ValueError, ImportError) as error:
        raise UsageError(f"--{error}" if str(error).startswith("storage ") else str(error)) from None
