"""Entry point of the ``xsup`` command: parse the arguments, run the command, return its status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from xsup.cli import app, bench, demo, plugins, tune
from xsup.cli._arguments import UsageError

__all__ = ["build_parser", "main"]

#: Command modules, in the order ``xsup --help`` lists them.
COMMANDS = (demo, bench, tune, plugins, app)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``xsup`` parser with one subcommand per command module."""
    from xsup import __version__

    parser = _Parser(
        prog="xsup",
        description="Explanation supervision: train networks whose saliency maps agree "
        "with annotations.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``xsup`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments without the program name.

    Returns
    -------
    int
        0 on success, 2 for a usage error (bad option values, reported on one
        line), 1 when a file cannot be written, 130 when interrupted.

    Examples
    --------
    >>> main(["plugins", "--kind", "losses"])  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    kind    name    origin
    ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and parse errors
        return exit_.code if isinstance(exit_.code, int) else 2
    prog = f"xsup {args.command}"
    try:
        return int(args.run(args))
    except UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
