"""The project's SQLite file: ratings, the event log and an index of the annotation files.

SQLite runs in WAL mode with ``synchronous=FULL``: a committed rating or
event survives the process being killed and the machine losing power, and
readers never wait for the writer. Each thread has its own connection. A
write that must be checked against the current state runs inside
:meth:`Database.transaction` (``BEGIN IMMEDIATE``), which also serialises
writers across processes, e.g. an import script beside a running server.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["RATINGS", "Database"]

#: The answers a reviewer can give about a saliency map; nothing is pre-selected.
RATINGS = ("right", "wrong", "unsure")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS annotation_index (
    annotator TEXT NOT NULL, sample INTEGER NOT NULL, version INTEGER NOT NULL,
    status TEXT NOT NULL, mtime_ns INTEGER NOT NULL, PRIMARY KEY (annotator, sample));
CREATE TABLE IF NOT EXISTS ratings (
    annotator TEXT NOT NULL, sample INTEGER NOT NULL, round INTEGER NOT NULL,
    rating TEXT NOT NULL, time REAL NOT NULL, PRIMARY KEY (annotator, sample, round));
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, kind TEXT NOT NULL,
    annotator TEXT, sample INTEGER, count INTEGER NOT NULL DEFAULT 1, detail TEXT);
CREATE INDEX IF NOT EXISTS events_by_kind_time ON events (kind, time);
"""


class Database:
    """Per-thread SQLite connections to one project's ``app.db``.

    Parameters
    ----------
    path : path-like
        The database file; created with its tables when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.connection().executescript(_SCHEMA)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=30.0,
                                         check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the database's write lock from its first statement."""
        connection = self.connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this object opened."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ annotation index
    def index(self, annotator: str | None = None) -> list[tuple[str, int, int, str, int]]:
        """Rows ``(annotator, sample, version, status, mtime_ns)`` of one annotator or all."""
        query = "SELECT annotator, sample, version, status, mtime_ns FROM annotation_index"
        if annotator is None:
            return self.connection().execute(query).fetchall()
        return self.connection().execute(query + " WHERE annotator = ?", (annotator,)).fetchall()

    @staticmethod
    def set_index(connection: sqlite3.Connection, annotator: str, sample: int, version: int,
                  status: str, mtime_ns: int) -> None:
        """Record (inside a transaction) the version and status of one annotation file."""
        connection.execute(
            "INSERT OR REPLACE INTO annotation_index VALUES (?, ?, ?, ?, ?)",
            (annotator, sample, version, status, mtime_ns),
        )

    # ------------------------------------------------------------------ events
    @staticmethod
    def add_event(connection: sqlite3.Connection, kind: str, annotator: str | None = None,
                  sample: int | None = None, count: int = 1, detail: str | None = None) -> None:
        """Log one event (inside a transaction): a save with its strokes, a rating, a round."""
        connection.execute(
            "INSERT INTO events (time, kind, annotator, sample, count, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)", (time.time(), kind, annotator, sample, count, detail),
        )

    def count_events(self, kind: str, since: float = 0.0, until: float | None = None) -> int:
        """Sum of the counts of the events of one kind in ``[since, until)``."""
        query = "SELECT COALESCE(SUM(count), 0) FROM events WHERE kind = ? AND time >= ?"
        arguments: tuple[Any, ...] = (kind, since)
        if until is not None:
            query += " AND time < ?"
            arguments += (until,)
        return int(self.connection().execute(query, arguments).fetchone()[0])

    # ------------------------------------------------------------------ ratings
    def set_rating(self, annotator: str, sample: int, round_: int, rating: str | None) -> None:
        """Store (or, with ``rating=None``, withdraw) a rating and log it as an event."""
        if rating is not None and rating not in RATINGS:
            raise ValueError(f"rating must be one of {', '.join(RATINGS)} or null; got {rating!r}.")
        with self.transaction() as connection:
            if rating is None:
                connection.execute("DELETE FROM ratings WHERE annotator = ? AND sample = ? AND "
                                   "round = ?", (annotator, sample, round_))
            else:
                connection.execute("INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?, ?)",
                                   (annotator, sample, round_, rating, time.time()))
            self.add_event(connection, "rating", annotator, sample, detail=f"{round_}:{rating}")

    def ratings(self, *, annotator: str | None = None, round_: int | None = None,
                sample: int | None = None) -> list[tuple[str, int, int, str]]:
        """Rows ``(annotator, sample, round, rating)`` matching the given filters."""
        clauses, arguments = [], []
        for column, value in (("annotator", annotator), ("round", round_), ("sample", sample)):
            if value is not None:
                clauses.append(f"{column} = ?")
                arguments.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return self.connection().execute(
            f"SELECT annotator, sample, round, rating FROM ratings{where} ORDER BY time",
            arguments,
        ).fetchall()
