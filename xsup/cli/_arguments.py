"""Argument types and the error that the commands report as a usage error."""

from __future__ import annotations

import argparse

__all__ = ["UsageError", "non_negative_int", "positive_int"]


class UsageError(Exception):
    """A bad option value found after parsing; reported on one line, exit status 2."""


def _int(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}")
    return value


def positive_int(text: str) -> int:
    """Parse an int >= 1."""
    return _int(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """Parse an int >= 0."""
    return _int(text, 0, "a non-negative integer")
