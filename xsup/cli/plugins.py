"""``xsup plugins``: the table of available plugins, their kind and where they come from."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

__all__ = ["add_parser", "plugin_table", "run"]

KINDS = ("losses", "explainers", "interpolators", "modules")


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Declare ``xsup plugins [--kind KIND]``."""
    parser = commands.add_parser(
        "plugins",
        help="list the available plugins (losses, explainers, interpolators, modules)",
        description="List every usable plugin with its kind and origin (built-in or the "
        "distribution that provides it). Plugins that fail to load are reported as warnings.",
    )
    parser.add_argument("--kind", choices=KINDS, help="list only plugins of this kind")
    parser.set_defaults(run=run)
    return parser


def plugin_table(kinds: tuple[str, ...] = KINDS) -> list[tuple[str, str, str]]:
    """Rows ``(kind, name, origin)`` of the usable plugins of the given kinds."""
    from xsup.plugins import available

    return [
        (kind, name, origin)
        for kind in kinds
        for name, origin in available(kind, with_origin=True).items()
    ]


def run(args: argparse.Namespace) -> int:
    """Print the plugin table; plugins that failed to load are reported on stderr, one line each."""
    from xsup.plugins import PluginWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        table = plugin_table((args.kind,) if args.kind else KINDS)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    rows = [("kind", "name", "origin"), *table]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    for kind, name, origin in rows:
        print(f"{kind:<{widths[0]}}  {name:<{widths[1]}}  {origin}")
    return 0
