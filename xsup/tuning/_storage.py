"""Where a study lives: paths and URLs resolved, and a start that is safe for concurrent workers.

Optuna builds a relational storage's tables when it first connects, and
creates a study under a unique name. Workers started together on a fresh
SQLite file or database race on both: one creates a table the other is
creating, or stamps the schema version twice. The loser's error says that
someone else got there first; the work is then done, so connecting again
succeeds. :func:`connect` (and the study opening of ``_study.py``) retry such
errors with a short, jittered back-off, and report every other failure in one
line that names the storage.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shlex
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import optuna

from xsup.tuning._checks import check_heartbeat

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "SQLITE_SUFFIXES",
    "check_location",
    "connect",
    "dashboard_command",
    "describe_storage",
    "resolve_storage",
    "storage_for_tune",
    "with_retries",
]

T = TypeVar("T")

_JOURNAL_SUFFIXES = (".log", ".journal")
#: Suffixes of the paths taken for SQLite files.
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")

#: Seconds between heartbeats of a running trial when ``tune`` stores the study in a database.
DEFAULT_HEARTBEAT_INTERVAL = 60

#: Connection attempts while another worker is creating the schema or the study.
_ATTEMPTS = 10

#: What a database says when another connection created the same thing a moment before.
_RACE_MARKERS = (
    "already exists",
    "unique constraint",
    "duplicate key",
    "database is locked",
    "deadlock detected",
    "could not serialize",
)

#: The same back-off for every worker would keep them in step: each draws its own jitter.
_jitter = random.Random()


def resolve_storage(
    storage: Any, *, heartbeat_interval: int | None = None, grace_period: int | None = None
) -> Any:
    """Turn a path or URL into what ``optuna.create_study(storage=...)`` takes.

    Parameters
    ----------
    storage : None, str, os.PathLike or optuna storage
        None: in memory. A path ending ``.db``, ``.sqlite`` or ``.sqlite3``:
        an embedded SQLite file. A path ending ``.log`` or ``.journal``: an
        append-only journal file (safe for several local processes). A URL
        (``"postgresql+psycopg://..."``, ``"mysql+pymysql://..."``,
        ``"sqlite:///..."``) or a storage object: passed through. A
        ``postgresql://`` URL without a driver takes psycopg 3 (the
        ``postgres`` extra) when psycopg2 is not installed.
    heartbeat_interval : int or None, default=None
        Seconds between the heartbeats a running trial writes to a SQLite file
        or database URL (an ``optuna.storages.RDBStorage`` is built). A trial
        whose worker died (killed, out of memory, machine lost) stops beating;
        the next worker to start a trial marks it ``FAIL`` and re-runs its
        parameters (``RetryHeartbeatStaleTrialCallback``, at most 3 times).
        Without it such a trial stays ``RUNNING`` forever. Optuna's journal
        storage has no heartbeat: use a SQLite file or a database for it.
    grace_period : int or None, default=None
        Seconds without a heartbeat after which a trial is stale (Optuna's
        default: twice ``heartbeat_interval``). Needs ``heartbeat_interval``.

    Returns
    -------
    None, str or optuna.storages.BaseStorage

    Raises
    ------
    ValueError
        A path with another suffix, or in a folder that does not exist; a
        heartbeat for storage that has none; a database that cannot be opened.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> resolve_storage(os.path.join(folder, "study.db"))  # doctest: +ELLIPSIS
    'sqlite:///.../study.db'
    >>> resolve_storage("missing_folder/study.db")
    Traceback (most recent call last):
    ...
    ValueError: storage 'missing_folder/study.db': folder 'missing_folder' does not exist; create it first or choose another path.
    >>> type(resolve_storage(None))
    <class 'NoneType'>
    """
    if heartbeat_interval is not None or grace_period is not None:
        interval = check_heartbeat("heartbeat_interval", heartbeat_interval)
        grace = check_heartbeat("grace_period", grace_period)
        if interval is None:
            raise ValueError(f"grace_period={grace!r} needs heartbeat_interval; got None.")
        url = resolve_storage(storage)
        if not isinstance(url, str):
            found = "in-memory storage" if url is None else type(url).__name__
            raise ValueError(
                "heartbeat_interval needs a SQLite file (.db) or a database URL, where Optuna "
                f"records heartbeats; got {found} (Optuna's journal storage has no heartbeat)."
            )
        return connect(url, heartbeat_interval=interval, grace_period=grace)
    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    location = check_location(storage)
    if "://" in location:
        return location
    if location.endswith(SQLITE_SUFFIXES):
        return f"sqlite:///{location}"
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(location))


def check_location(storage: Any) -> str:
    """Check a storage path or URL without opening anything; the URL, or the absolute path.

    Raises
    ------
    TypeError
        Not a path or a URL.
    ValueError
        A path with another suffix, or whose folder does not exist.
    """
    if not isinstance(storage, (str, os.PathLike)):
        raise TypeError(
            f"storage must be None, a path, a database URL or an optuna storage; got "
            f"{type(storage).__name__}."
        )
    text = os.fspath(storage)
    if "://" in text:
        url = _normalise_url(text)
        _check_sqlite_folder(url, text)
        return url
    path = os.path.abspath(text)
    if not path.endswith(SQLITE_SUFFIXES + _JOURNAL_SUFFIXES):
        raise ValueError(
            f"storage {text!r}: expected a database URL (e.g. 'postgresql+psycopg://...'), a "
            f"SQLite file ending {'/'.join(SQLITE_SUFFIXES)} or a journal file ending "
            f"{'/'.join(_JOURNAL_SUFFIXES)}."
        )
    _check_folder(path, text)
    return path


def _check_folder(path: str, text: str, written: str | None = None) -> None:
    """Refuse a file path whose folder is missing, naming the folder as the user wrote it."""
    folder = os.path.dirname(path)
    if os.path.isdir(folder):
        return
    shown = os.path.dirname(text if written is None else written) or folder
    problem = "is not a folder" if os.path.exists(folder) else "does not exist"
    raise ValueError(
        f"storage {text!r}: folder {shown!r} {problem}; create it first or choose another path."
    )


def _check_sqlite_folder(url: str, text: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # reported, with the reason, when the storage is opened
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        _check_folder(os.path.abspath(parsed.database), text, parsed.database)


def _normalise_url(url: str) -> str:
    """``postgres://`` spelt as SQLAlchemy wants; psycopg 3 when it is the driver installed."""
    scheme, _, rest = url.partition("://")
    if scheme in ("postgres", "postgresql"):
        has_psycopg2 = importlib.util.find_spec("psycopg2") is not None
        has_psycopg = importlib.util.find_spec("psycopg") is not None
        driver = "postgresql" if has_psycopg2 or not has_psycopg else "postgresql+psycopg"
        return f"{driver}://{rest}"
    return url


def _masked_url(url: str) -> str:
    """A URL without its password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.rpartition("@")[2]


def describe_storage(storage: Any) -> str:
    """A storage as messages show it: URLs without their password.

    Examples
    --------
    >>> describe_storage("postgresql+psycopg://ann:secret@db-host/xsup")
    "'postgresql+psycopg://ann:***@db-host/xsup'"
    >>> describe_storage(None)
    'None (in memory)'
    """
    if storage is None:
        return "None (in memory)"
    url = getattr(storage, "url", storage)
    return repr(_masked_url(url)) if isinstance(url, str) else type(storage).__name__


def _is_setup_race(error: BaseException) -> bool:
    """Whether an error says that another worker created the same table, row or study first."""
    from sqlalchemy.exc import IntegrityError

    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        if isinstance(error, IntegrityError):
            return True
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    text = " ".join(str(e) for e in seen).lower()
    return any(marker in text for marker in _RACE_MARKERS)


def _reason(error: BaseException) -> str:
    """The first line of the driver's message, without SQLAlchemy's wrapping."""
    inner = getattr(error, "orig", None) or error.__cause__ or error
    inner = getattr(inner, "orig", None) or inner
    lines = [line.strip() for line in str(inner).splitlines() if line.strip()]
    return lines[0] if lines else type(inner).__name__


def with_retries(action: Callable[[], T], storage: Any) -> T:
    """Run a storage set-up step, again while another worker's set-up of it is in progress.

    Raises
    ------
    ValueError
        Any other storage error, in one line naming ``storage``.
    """
    from sqlalchemy.exc import SQLAlchemyError

    errors = (SQLAlchemyError, optuna.exceptions.StorageInternalError)
    for attempt in range(_ATTEMPTS):
        try:
            return action()
        except errors as error:
            if attempt + 1 < _ATTEMPTS and _is_setup_race(error):
                time.sleep(min(0.05 * 2**attempt, 1.0) + _jitter.uniform(0.0, 0.1))
                continue
            raise ValueError(
                f"storage {describe_storage(storage)}: cannot open the database ({_reason(error)})."
            ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _engine_kwargs(url: str) -> dict[str, Any]:
    """SQLite waits for a busy file instead of failing; server connections are checked first."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}


def connect(
    url: str, *, heartbeat_interval: int | None = None, grace_period: int | None = None
) -> optuna.storages.RDBStorage:
    """An ``RDBStorage`` on ``url``, its tables created safely while other workers start too.

    With ``heartbeat_interval``, stale trials are failed and retried
    (``RetryHeartbeatStaleTrialCallback(max_retry=3)``).

    Raises
    ------
    ValueError
        The database cannot be opened (bad URL, server unreachable, refused).
    ImportError
        The URL's database driver is not installed.
    """
    def build() -> optuna.storages.RDBStorage:
        with warnings.catch_warnings():  # Optuna marks the heartbeat experimental; asked for here
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = (optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)
                     if heartbeat_interval is not None else None)
            return optuna.storages.RDBStorage(
                url, engine_kwargs=_engine_kwargs(url), heartbeat_interval=heartbeat_interval,
                grace_period=grace_period, heartbeat_stale_trial_callback=retry,
            )

    try:
        return with_retries(build, url)
    except ImportError as error:
        hint = ' (pip install "xsup[postgres]")' if url.startswith("postgres") else ""
        raise ImportError(
            f"storage {describe_storage(url)}: its database driver is not installed"
            f"{hint}: {error.__cause__ or error}"
        ) from None


def storage_for_tune(
    storage: Any, heartbeat_interval: int | str | None = "auto", grace_period: int | None = None
) -> Any:
    """The storage object ``tune`` runs on: databases connected, heartbeat on by default.

    ``heartbeat_interval="auto"`` is :data:`DEFAULT_HEARTBEAT_INTERVAL` for a
    SQLite file or a database URL and no heartbeat for the others; None
    turns it off.
    """
    if isinstance(heartbeat_interval, str):
        if heartbeat_interval != "auto":
            raise ValueError(
                "heartbeat_interval must be 'auto', None or a positive whole number of seconds; "
                f"got {heartbeat_interval!r}."
            )
        url = resolve_storage(storage)
        if not isinstance(url, str):
            if grace_period is not None:
                check_heartbeat("grace_period", grace_period)
                raise ValueError(
                    f"grace_period={grace_period!r} needs a SQLite file or a database URL, "
                    "where Optuna records heartbeats."
                )
            return url
        return connect(url, heartbeat_interval=DEFAULT_HEARTBEAT_INTERVAL,
                       grace_period=check_heartbeat("grace_period", grace_period))
    url = resolve_storage(storage, heartbeat_interval=heartbeat_interval,
                          grace_period=grace_period)
    return connect(url) if isinstance(url, str) else url


def dashboard_command(storage: Any) -> str | None:
    """The ``optuna-dashboard`` command that shows a study stored at ``storage`` (a path or URL).

    Passwords are left out of URLs (``***``). None for in-memory studies and
    storage objects.

    Examples
    --------
    >>> dashboard_command("postgresql+psycopg://ann:secret@db-host/xsup")
    "optuna-dashboard 'postgresql+psycopg://ann:***@db-host/xsup'"
    """
    if not isinstance(storage, (str, os.PathLike)):
        return None
    text = os.fspath(storage)
    target = _masked_url(_normalise_url(text)) if "://" in text else os.path.abspath(text)
    return f"optuna-dashboard {shlex.quote(target)}"
