"""``xsup app PROJECT_DIR``: serve an annotation project as a local web app."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from xsup.cli._arguments import UsageError, non_negative_int

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Declare ``xsup app PROJECT_DIR [--host HOST] [--port PORT] [--token TOKEN]``."""
    parser = commands.add_parser(
        "app",
        help="annotate, review and correct explanations in the browser, then retrain",
        description="Serve a project folder (written by xsup.app.create_project) as a local web "
        "app and print its URL with the access token. Binds 127.0.0.1 unless --host says "
        "otherwise. Needs the 'app' extra: pip install \"xsup[app]\".",
    )
    parser.add_argument("project", type=Path, metavar="PROJECT_DIR", help="the project folder")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=non_negative_int, default=8765,
                        help="port to listen on; 0 picks a free one (default: 8765)")
    parser.add_argument("--token", default=None,
                        help="access token (default: a random one, printed in the URL)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    try:
        from xsup.app import serve
    except ImportError as error:
        raise UsageError(str(error)) from None
    if args.port > 65535:
        raise UsageError(f"--port must be at most 65535; got {args.port}.")
    try:
        serve(args.project, host=args.host, port=args.port, token=args.token)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return 0
