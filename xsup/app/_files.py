"""Files that survive a crash: atomic replacement, flushed directories, checked names.

Every file the app writes goes through :func:`write_atomic`: the bytes go to a
temporary file in the destination folder, are flushed to disk, and only then
replace the destination with :func:`os.replace`; the folder entry is flushed
last. A process killed at any instant therefore leaves either the old file or
the new one, never a torn one, and a write that was acknowledged is on disk.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

__all__ = [
    "NAME_PATTERN", "check_name", "fsync_directory", "read_json", "remove_stale_temporaries",
    "write_atomic", "write_json",
]

#: What an annotator name may look like: it becomes a folder name, so no separators or dots first.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")

#: Suffix of the temporary files that :func:`write_atomic` renames into place.
TEMPORARY_SUFFIX = ".partial"


def check_name(name: Any, what: str = "annotator") -> str:
    """Return ``name`` if it is a safe annotator name, else raise.

    Parameters
    ----------
    name : str
        Up to 64 letters, digits, ``_``, ``.`` or ``-``, not starting with
        ``.`` or ``-``.
    what : str, default="annotator"
        What the name names, for the message.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        ``name`` is not a string.
    ValueError
        ``name`` holds other characters.

    Examples
    --------
    >>> check_name("alice-2")
    'alice-2'
    >>> check_name("../etc")
    Traceback (most recent call last):
    ...
    ValueError: annotator must be 1 to 64 letters, digits, '_', '.' or '-' (not starting with '.' or '-'); got '../etc'.
    """
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string; got {type(name).__name__}.")
    if NAME_PATTERN.fullmatch(name) is None:
        raise ValueError(
            f"{what} must be 1 to 64 letters, digits, '_', '.' or '-' (not starting with '.' "
            f"or '-'); got {name!r}."
        )
    return name


def fsync_directory(path: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (new and renamed files) to disk, where the system allows it."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    with suppress(OSError):  # some systems (Windows) cannot open a folder
        descriptor = os.open(path, flags)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def write_atomic(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any],
                 *, durable: bool = True) -> None:
    """Write a file so that a crash leaves either its old or its new content.

    Parameters
    ----------
    path : path-like
        Destination; its folder must exist.
    write : callable
        Called with a binary file object open on the temporary file.
    durable : bool, default=True
        Flush the file and its folder to disk before returning. Bulk writers
        pass False and flush everything once at the end.
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            if durable:
                os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    if durable:
        fsync_directory(path.parent)


def write_json(path: str | os.PathLike[str], value: Any, *, durable: bool = True) -> None:
    """Write ``value`` as indented JSON with :func:`write_atomic`."""
    text = json.dumps(value, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_atomic(path, lambda file: file.write(text.encode("utf-8")), durable=durable)


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON value in ``path`` (which must exist)."""
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> int:
    """Delete the temporary files a killed writer left in ``folder``; return how many."""
    removed = 0
    with suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            if entry.name.startswith(".") and entry.name.endswith(TEMPORARY_SUFFIX):
                with suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed
