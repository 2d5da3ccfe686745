"""``xsup bench NAME``: run a reproduction benchmark and write its tables and figures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from xsup.cli._arguments import UsageError, non_negative_int, positive_int

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Declare ``xsup bench NAME [--quick] [--out DIR] [--seeds S ...] [--threads N] [--force]``."""
    from xsup.bench import BENCHMARKS

    listing = "; ".join(f"{name}: {text}" for name, text in BENCHMARKS.items())
    parser = commands.add_parser(
        "bench",
        help="reproduce a paper's table and figures (results.md, results.json, PNGs)",
        description="Train the methods a paper compares on offline data, over several seeds, "
        "and write results.md (mean ± std tables and paired verdicts with 95%% intervals), "
        "results.json (every score per seed, settings, environment) and PNG figures. "
        f"Benchmarks: {listing}.",
    )
    parser.add_argument("name", choices=list(BENCHMARKS), metavar="NAME",
                        help=f"which benchmark: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true",
                        help="a CI-sized run of a few seconds (one seed, tiny data); "
                        "its numbers mean nothing")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (created if needed; default: xsup-bench/NAME, "
                        "xsup-bench/NAME-quick with --quick)")
    parser.add_argument("--seeds", type=non_negative_int, nargs="+", metavar="S",
                        help="seeds of data and models (default: the full mode's five or more; "
                        "0 with --quick)")
    parser.add_argument("--threads", type=positive_int, default=1, metavar="N",
                        help="torch threads during the run (default: 1, which makes a re-run "
                        "give the same numbers)")
    parser.add_argument("--force", action="store_true",
                        help="write into an existing folder that holds files xsup bench did "
                        "not write")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Check the options and the optional packages, then run the named benchmark."""
    from xsup.bench import check_dependencies, default_out, prepare_out, run_benchmark

    out = default_out(args.name, args.quick) if args.out is None else args.out
    if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
        raise UsageError(f"--seeds must be distinct; got {' '.join(map(str, args.seeds))}")
    try:
        check_dependencies(args.name)
        prepare_out(out, force=args.force)
    except ImportError as error:
        raise UsageError(str(error)) from None
    except ValueError as error:
        message = str(error).replace("out ", "--out ", 1).replace("force=True (--force)",
                                                                  "--force").rstrip(".")
        raise UsageError(message) from None
    run_benchmark(args.name, out, quick=args.quick, seeds=args.seeds, threads=args.threads,
                  force=True)
    return 0
