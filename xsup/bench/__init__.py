"""Reproduction benchmarks: the papers' tables and figures on offline data.

Each benchmark trains the methods a paper compares on data that ships with
xsup, over several seeds, and writes ``results.md`` (mean ± std tables),
``results.json`` (every score per seed, and the settings) and PNG figures:

- ``stes``: STES Tables 1 and 2 and Fig. 3 on
  :func:`xsup.datasets.make_spatiotemporal_events`;
- ``res``: RES Table 1 and Fig. 2 on :func:`xsup.datasets.load_decoy_digits`;
- ``sensitivity``: STES Fig. 4, STES over sigma1, sigma2 and alpha;
- ``perf``: timing ratios (loss overhead per epoch, RES threshold search,
  ``explain`` throughput and scaling);
- ``ts-saliency``: TSR Table 1 and SGT Table 2 on
  :func:`xsup.datasets.make_ts_benchmark`.

``xsup bench NAME`` runs them from the command line.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from pathlib import Path

from xsup.bench._common import BenchResult, write_results

__all__ = ["BENCHMARKS", "BenchResult", "default_out", "run_benchmark"]

#: Benchmark name -> one-line description.
BENCHMARKS = {
    "stes": "STES Tables 1-2 and Fig. 3 on SolarFlare-like raster sequences",
    "res": "RES Table 1 and Fig. 2 on decoy digits",
    "sensitivity": "STES Fig. 4: STES over sigma1, sigma2 and alpha",
    "perf": "Explanation-loss epoch overhead, RES threshold search, explain throughput",
    "ts-saliency": "TSR Table 1 and SGT Table 2: time-series saliency methods, with and without TSR",
}


def default_out(name: str, quick: bool) -> Path:
    """``benchmarks/<name>``, or ``benchmarks/<name>-quick`` for a quick run.

    A quick run never overwrites the reference results of a full run.

    Examples
    --------
    >>> default_out("stes", quick=True).as_posix()
    'benchmarks/stes-quick'
    """
    return Path("benchmarks") / (f"{name}-quick" if quick else name)


def run_benchmark(
    name: str,
    out: str | Path | None = None,
    *,
    quick: bool = False,
    seeds: Sequence[int] | None = None,
) -> BenchResult:
    """Run a benchmark and write its ``results.md``, ``results.json`` and figures.

    Parameters
    ----------
    name : {"stes", "res", "sensitivity", "perf", "ts-saliency"}
        Which benchmark.
    out : str or path-like, optional
        Output folder (created if needed); default ``benchmarks/<name>`` in
        the working directory (``benchmarks/<name>-quick`` with ``quick``).
    quick : bool, default=False
        A run of a few seconds for continuous integration: tiny data, one
        seed, one or two epochs. Its numbers mean nothing.
    seeds : sequence of int, optional
        Seeds to run instead of the mode's (full: 0, 1, 2).

    Returns
    -------
    BenchResult
        The tables, raw scores and settings that were written.

    Raises
    ------
    ValueError
        An unknown name, or seeds that are not distinct non-negative ints.
    """
    if name not in BENCHMARKS:
        raise ValueError(f"name must be one of {', '.join(BENCHMARKS)}; got {name!r}.")
    if seeds is not None:
        seeds = tuple(seeds)
        valid = all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
        if not seeds or not valid or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct non-negative ints; got {seeds!r}.")
    folder = default_out(name, quick) if out is None else Path(out)
    module = importlib.import_module(f"xsup.bench.{name.replace('-', '_')}")
    started = time.perf_counter()
    result: BenchResult = module.run(folder, quick=quick, seeds=seeds)
    elapsed = time.perf_counter() - started
    for path in write_results(result, folder, elapsed=elapsed, quick=quick):
        print(f"wrote {path}", flush=True)
    print(f"{name}: done in {elapsed:.0f} s; figures: "
          f"{', '.join(str(folder / f) for f in result.figures)}", flush=True)
    return result
