"""``xsup plugins``: the table of available plugins, their kind and where they come from."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

__all__ = ["add_parser", "plugin_table", "run"]

KINDS = ("losses", "explainers", "interpolators", "modules")
USABLE = "usable"


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Declare ``xsup plugins [--kind KIND]``."""
    parser = commands.add_parser(
        "plugins",
        help="list the available plugins (losses, explainers, interpolators, modules)",
        description="List every plugin with its kind, origin (built-in or the distribution "
        "that provides it) and status: usable, or why not (a failed import, a missing optional "
        "dependency and how to install it).",
    )
    parser.add_argument("--kind", choices=KINDS, help="list only plugins of this kind")
    parser.set_defaults(run=run)
    return parser


def plugin_table(kinds: tuple[str, ...] = KINDS) -> list[tuple[str, str, str, str]]:
    """Rows ``(kind, name, origin, status)``: the usable plugins, then those that are not.

    The status of an unusable plugin says why (``"unavailable: needs 'captum', ..."``).
    """
    from xsup.plugins import available, unavailable

    rows = []
    for kind in kinds:
        rows += [(kind, name, origin, USABLE)
                 for name, origin in available(kind, with_origin=True).items()]
        for name, reason in unavailable(kind).items():
            origin, _, why = reason.partition(": ")
            rows.append((kind, name, origin, f"unavailable: {why}"))
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the plugin table; plugins that failed to load are also reported on stderr."""
    from xsup.plugins import PluginWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        table = plugin_table((args.kind,) if args.kind else KINDS)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    rows = [("kind", "name", "origin", "status"), *table]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for kind, name, origin, status in rows:
        print(f"{kind:<{widths[0]}}  {name:<{widths[1]}}  {origin:<{widths[2]}}  {status}")
    return 0
