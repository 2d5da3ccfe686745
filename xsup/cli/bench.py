"""``xsup bench NAME``: run a reproduction benchmark and write its tables and figures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from xsup.cli._arguments import UsageError, non_negative_int

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Declare ``xsup bench NAME [--quick] [--out DIR] [--seeds S [S ...]]``."""
    from xsup.bench import BENCHMARKS

    listing = "; ".join(f"{name}: {text}" for name, text in BENCHMARKS.items())
    parser = commands.add_parser(
        "bench",
        help="reproduce a paper's table and figures (results.md, results.json, PNGs)",
        description="Train the methods a paper compares on offline data, over several seeds, "
        "and write results.md (mean ± std tables), results.json (every score per seed) and "
        f"PNG figures. Benchmarks: {listing}.",
    )
    parser.add_argument("name", choices=list(BENCHMARKS), metavar="NAME",
                        help=f"which benchmark: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true",
                        help="a CI-sized run of a few seconds (one seed, tiny data); "
                        "its numbers mean nothing")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (created if needed; default: benchmarks/NAME, "
                        "benchmarks/NAME-quick with --quick)")
    parser.add_argument("--seeds", type=non_negative_int, nargs="+", metavar="S",
                        help="seeds of data and models (default: 0 1 2; 0 with --quick)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the named benchmark."""
    from xsup.bench import default_out, run_benchmark

    out = default_out(args.name, args.quick) if args.out is None else args.out
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} exists and is not a directory")
    if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
        raise UsageError(f"--seeds must be distinct; got {' '.join(map(str, args.seeds))}")
    run_benchmark(args.name, out, quick=args.quick, seeds=args.seeds)
    return 0
