"""Reproduction benchmarks: the papers' tables and figures on offline data.

Each benchmark trains the methods a paper compares on data that ships with
xsup, over several seeds (at least five in full mode), and writes
``results.md`` (mean ± std tables, and every claim decided by a paired
comparison over seeds with its 95% interval), ``results.json`` (every score
per seed, the settings and the environment) and PNG figures:

- ``stes``: STES Tables 1 and 2 and Fig. 3 on
  :func:`xsup.datasets.make_spatiotemporal_events`, and the interpolators on
  drifting regions;
- ``res``: RES Table 1 and Fig. 2 on :func:`xsup.datasets.load_decoy_digits`;
- ``noise``: RES's setting, every method as the annotations get worse
  (:func:`xsup.datasets.corrupt_annotations`) and as the training set shrinks;
- ``sensitivity``: STES Fig. 4, STES over sigma1, sigma2 and alpha;
- ``reach``: Robin et al.'s perturbation analysis on planted data, ConvLSTM
  and CNN+GRU, with and without explanation supervision;
- ``sgt``: SGT's modification-based evaluation on scikit-learn's digits;
- ``perf``: timing ratios (loss overhead per epoch, RES threshold search,
  ``explain`` throughput and scaling);
- ``ts-saliency``: TSR Table 1 and SGT Table 2 on
  :func:`xsup.datasets.make_ts_benchmark`.

``xsup bench NAME`` runs them from the command line. Every benchmark module
has ``FULL`` and ``QUICK`` settings and a ``run(out, *, quick=False,
seeds=None)`` function: ``out`` is the folder of its figures, ``quick`` the
CI-sized mode (a few seconds; its numbers mean nothing), ``seeds`` replaces
the mode's seeds; it returns the :class:`BenchResult` that
:func:`run_benchmark` writes.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from collections.abc import Sequence
from pathlib import Path

from xsup.bench._common import BenchResult, write_results

__all__ = ["BENCHMARKS", "BenchResult", "check_dependencies", "default_out", "prepare_out",
           "run_benchmark"]

#: Benchmark name -> one-line description.
BENCHMARKS = {
    "stes": "STES Tables 1-2 and Fig. 3 on SolarFlare-like raster sequences, interpolators on "
            "drifting regions",
    "res": "RES Table 1 and Fig. 2 on decoy digits",
    "noise": "RES's setting: every method as annotations get noisier and training sets smaller",
    "sensitivity": "STES Fig. 4: STES over sigma1, sigma2 and alpha",
    "reach": "Robin et al.: how far in space and time a ConvLSTM and a CNN+GRU look",
    "sgt": "SGT Fig. 3: accuracy drop on digits as the most salient pixels are removed",
    "perf": "Explanation-loss epoch overhead, RES threshold search, explain throughput",
    "ts-saliency": "TSR Table 1 and SGT Table 2: time-series saliency methods, with and without TSR",
}

#: Optional packages each benchmark needs (importable name -> extra that installs it).
_NEEDS = {"matplotlib": "plot", "captum": "explain"}
_REQUIREMENTS = {name: ("matplotlib",) for name in BENCHMARKS}
_REQUIREMENTS.update({"perf": ("matplotlib", "captum"), "ts-saliency": ("matplotlib", "captum"),
                      "sgt": ("matplotlib", "captum")})

#: File that marks a folder as written by ``xsup bench``.
MARKER = ".xsup-bench"


def default_out(name: str, quick: bool) -> Path:
    """``xsup-bench/<name>`` in the working directory, ``xsup-bench/<name>-quick`` for a quick run.

    The committed reference results live in ``benchmarks/<name>`` of the
    repository and are written only with an explicit ``--out``.

    Examples
    --------
    >>> default_out("stes", quick=False).as_posix()
    'xsup-bench/stes'
    >>> default_out("stes", quick=True).as_posix()
    'xsup-bench/stes-quick'
    """
    return Path("xsup-bench") / (f"{name}-quick" if quick else name)


def check_dependencies(name: str) -> None:
    """Raise ``ImportError`` naming the missing packages of a benchmark, before any training.

    Examples
    --------
    >>> check_dependencies("stes")  # matplotlib is installed here
    """
    missing = [package for package in _REQUIREMENTS[name]
               if importlib.util.find_spec(package) is None]
    if missing:
        extras = ",".join(sorted({_NEEDS[package] for package in missing}))
        raise ImportError(f"benchmark {name!r} needs {' and '.join(missing)}, which "
                          f"{'is' if len(missing) == 1 else 'are'} not installed: "
                          f'pip install "xsup[{extras}]"')


def prepare_out(folder: Path, *, force: bool = False) -> None:
    """Create ``folder`` for a run, refusing a folder with files ``xsup bench`` did not write.

    Parameters
    ----------
    folder : pathlib.Path
        The output folder.
    force : bool, default=False
        Write into an existing folder that holds other files (they are kept;
        files of the same names are overwritten).

    Raises
    ------
    ValueError
        ``folder`` is a file, or holds files and no marker of an earlier run
        while ``force`` is False.
    """
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"out {str(folder)!r} exists and is not a directory.")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MARKER).exists() and not force:
        raise ValueError(f"out {str(folder)!r} holds files that xsup bench did not write; "
                         "choose another folder or pass force=True (--force) to write there.")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("written by xsup bench\n")


def run_benchmark(
    name: str,
    out: str | Path | None = None,
    *,
    quick: bool = False,
    seeds: Sequence[int] | None = None,
    threads: int = 1,
    force: bool = False,
) -> BenchResult:
    """Run a benchmark and write its ``results.md``, ``results.json`` and figures.

    Parameters
    ----------
    name : str
        Which benchmark, a key of ``BENCHMARKS``.
    out : str or path-like, optional
        Output folder (created if needed); default ``xsup-bench/<name>`` in
        the working directory (``xsup-bench/<name>-quick`` with ``quick``).
    quick : bool, default=False
        A run of a few seconds for continuous integration: tiny data, one
        seed, one or two epochs. Its numbers mean nothing.
    seeds : sequence of int, optional
        Seeds to run instead of the mode's (full: at least five).
    threads : int, default=1
        torch intra-op threads during the run (restored afterwards). One
        thread makes a re-run on the same machine give the same numbers.
    force : bool, default=False
        Write into an existing folder that holds files ``xsup bench`` did not
        write.

    Returns
    -------
    BenchResult
        The tables, raw scores and settings that were written.

    Raises
    ------
    ValueError
        An unknown name, seeds that are not distinct non-negative ints, a bad
        thread count, or an output folder that is not the benchmark's.
    ImportError
        An optional package the benchmark needs is missing (checked first).
    """
    if name not in BENCHMARKS:
        raise ValueError(f"name must be one of {', '.join(BENCHMARKS)}; got {name!r}.")
    if seeds is not None:
        seeds = tuple(seeds)
        valid = all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
        if not seeds or not valid or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct non-negative ints; got {seeds!r}.")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an int >= 1; got {threads!r}.")
    check_dependencies(name)
    folder = default_out(name, quick) if out is None else Path(out)
    prepare_out(folder, force=force)
    import torch

    module = importlib.import_module(f"xsup.bench.{name.replace('-', '_')}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        started = time.perf_counter()
        result: BenchResult = module.run(folder, quick=quick, seeds=seeds)
        elapsed = time.perf_counter() - started
        paths = write_results(result, folder, elapsed=elapsed, quick=quick)
    finally:
        torch.set_num_threads(previous)
    for path in paths:
        print(f"wrote {path}", flush=True)
    print(f"{name}: done in {elapsed:.0f} s; figures: "
          f"{', '.join(str(folder / f) for f in result.figures)}", flush=True)
    return result
