"""What every reproduction benchmark shares: scores over seeds, tables, result files, progress."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BenchResult", "Progress", "Scores", "environment", "format_table", "mean_std",
           "mode_settings", "write_results"]

#: Scores of one benchmark: method label -> metric name -> one value per seed.
Scores = dict[str, dict[str, list[float]]]


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``; 0 for a single value), NaNs ignored.

    Parameters
    ----------
    values : iterable of float
        One score per seed.

    Returns
    -------
    mean, std : float
        NaN both when no value is finite.

    Examples
    --------
    >>> mean_std([0.2, 0.4])
    (0.30000000000000004, 0.14142135623730953)
    >>> mean_std([0.5])
    (0.5, 0.0)
    """
    array = np.asarray(list(values), dtype=np.float64)
    array = array[np.isfinite(array)]
    if array.size == 0:
        return math.nan, math.nan
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return float(array.mean()), std


def format_table(
    scores: Mapping[str, Mapping[str, Sequence[float]]],
    metrics: Sequence[str],
    *,
    first_column: str = "method",
    digits: int = 3,
    scale: float = 1.0,
    lower_is_better: Sequence[str] = (),
) -> str:
    """A markdown table of ``mean ± std`` per method (rows) and metric (columns).

    The best mean of each column is in bold (the highest, or the lowest for
    the metrics in ``lower_is_better``; ties all bold).

    Parameters
    ----------
    scores : mapping
        Method label -> metric name -> one value per seed.
    metrics : sequence of str
        The columns, in order.
    first_column : str, default="method"
        Header of the label column.
    digits : int, default=3
        Decimals shown.
    scale : float, default=1.0
        Factor applied before printing (100 for percentages).
    lower_is_better : sequence of str, default=()
        Metrics whose lowest mean is the best.

    Returns
    -------
    str
        The table, one line per row, without a trailing newline.

    Examples
    --------
    >>> print(format_table({"a": {"IoU": [0.1, 0.3]}, "b": {"IoU": [0.5]}}, ["IoU"]))
    | method | IoU |
    |---|---|
    | a | 0.200 ± 0.141 |
    | b | **0.500 ± 0.000** |
    """
    summary = {
        label: {metric: mean_std(row.get(metric, [])) for metric in metrics}
        for label, row in scores.items()
    }
    best = {}
    for metric in metrics:
        means = [summary[label][metric][0] for label in summary]
        finite = [m for m in means if math.isfinite(m)]
        choose = min if metric in lower_is_better else max
        best[metric] = choose(finite) if finite else math.nan
    lines = [
        "| " + " | ".join([first_column, *metrics]) + " |",
        "|" + "---|" * (len(metrics) + 1),
    ]
    for label, row in summary.items():
        cells = [label]
        for metric in metrics:
            mean, std = row[metric]
            if not math.isfinite(mean):
                cells.append("n/a")
                continue
            text = f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"
            cells.append(f"**{text}**" if mean == best[metric] else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mode_settings(full: Any, quick_settings: Any, *, quick: bool,
                  seeds: Sequence[int] | None) -> Any:
    """A benchmark's settings for its mode, with ``seeds`` instead of the mode's when given.

    Parameters
    ----------
    full, quick_settings : dataclass instance
        The benchmark's ``FULL`` and ``QUICK`` settings (frozen dataclasses
        with a ``seeds`` field).
    quick : bool
        Which of the two.
    seeds : sequence of int or None
        Seeds to run instead.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Settings:
    ...     epochs: int
    ...     seeds: tuple = (0, 1, 2, 3, 4)
    >>> mode_settings(Settings(30), Settings(1, (0,)), quick=False, seeds=[7, 8])
    Settings(epochs=30, seeds=(7, 8))
    """
    settings = quick_settings if quick else full
    return settings if seeds is None else replace(settings, seeds=tuple(seeds))


class Progress:
    """Print numbered progress lines (``[3/21] ...``) with the time since the start.

    Parameters
    ----------
    total : int
        Number of steps announced.
    stream : file-like or None, default=None
        Where to print; None is ``sys.stdout`` at the time of printing.

    Examples
    --------
    >>> import io
    >>> buffer = io.StringIO()
    >>> progress = Progress(2, stream=buffer)
    >>> progress.step("data")
    >>> buffer.getvalue().startswith("[1/2] data")
    True
    """

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total = total
        self.stream = stream
        self.done = 0
        self.started = time.perf_counter()

    def step(self, text: str) -> None:
        """Announce the next step."""
        self.done += 1
        self.note(f"[{self.done}/{self.total}] {text}")

    def note(self, text: str) -> None:
        """Print a line that is not a step (a result, a file written)."""
        elapsed = time.perf_counter() - self.started
        print(f"{text}  ({elapsed:.0f} s)", file=self.stream or sys.stdout, flush=True)


@dataclass
class BenchResult:
    """What a benchmark run produced: its tables, settings and notes, and the figures it drew.

    Attributes
    ----------
    name : str
        Benchmark name (``stes``, ``res``, ``sensitivity``).
    title : str
        Heading of ``results.md``.
    intro : str
        Markdown paragraphs under the heading: data, protocol, settings.
    tables : dict of str to str
        Section heading -> markdown table.
    data : dict
        Everything ``results.json`` holds besides the settings (raw scores per seed).
    settings : dict
        The sizes and hyperparameters of the run.
    figures : list of str
        File names of the PNG figures, relative to the output folder.
    notes : str
        Markdown after the tables (what holds, what does not).
    """

    name: str
    title: str
    intro: str
    tables: dict[str, str]
    data: dict[str, Any]
    settings: dict[str, Any]
    figures: list[str] = field(default_factory=list)
    notes: str = ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _cpu_name() -> str:
    """The processor's model name (from ``/proc/cpuinfo`` on Linux), else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def environment() -> dict[str, Any]:
    """What a run's numbers depend on besides the code: versions, threads, processor.

    Returns
    -------
    dict
        Python, torch, numpy, scipy, scikit-learn, skorch and xsup versions,
        torch's intra-op thread count, ``OMP_NUM_THREADS``, the processor, its
        logical core count, the platform and the CUDA device when one is used.

    Examples
    --------
    >>> sorted(environment())[:4]
    ['cpu', 'cpu_count', 'cuda', 'numpy']
    """
    import scipy
    import sklearn
    import skorch
    import torch

    import xsup

    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "python": platform.python_version(), "torch": torch.__version__,
        "numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__, "xsup": xsup.__version__,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu": _cpu_name(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "cuda": cuda,
    }


def _describe(env: Mapping[str, Any]) -> str:
    """One line of ``results.md`` from :func:`environment`."""
    device = f"CUDA {env['cuda']}" if env["cuda"] else "CPU"
    return (f"Python {env['python']}, torch {env['torch']}, numpy {env['numpy']}, scikit-learn "
            f"{env['scikit-learn']}, {env['torch_threads']} torch thread(s), {device}: "
            f"{env['cpu']} ({env['cpu_count']} logical cores)")


def write_results(result: BenchResult, out: Path, *, elapsed: float, quick: bool) -> list[Path]:
    """Write ``results.md`` and ``results.json`` into ``out``; return their paths.

    Parameters
    ----------
    result : BenchResult
        The run's tables, data and settings.
    out : pathlib.Path
        Output folder (created if needed).
    elapsed : float
        Seconds the run took.
    quick : bool
        Whether it was the quick (CI-sized) mode; said in both files.
    """
    out.mkdir(parents=True, exist_ok=True)
    mode = "quick (CI-sized, not for reporting)" if quick else "full"
    env = environment()
    lines = [f"# {result.title}", "", f"Mode: {mode}. Run time: {elapsed:.0f} s ({_describe(env)}).",
             "", result.intro.strip(), ""]
    for heading, table in result.tables.items():
        lines += [f"## {heading}", "", table, ""]
    if result.figures:
        lines += ["## Figures", ""]
        lines += [f"![{name}]({name})" for name in result.figures]
        lines.append("")
    if result.notes.strip():
        lines += [result.notes.strip(), ""]
    markdown = out / "results.md"
    markdown.write_text("\n".join(lines))
    payload = {
        "benchmark": result.name, "mode": "quick" if quick else "full",
        "elapsed_s": round(elapsed, 1), "environment": env,
        "settings": result.settings, **result.data, "figures": result.figures,
    }
    data = out / "results.json"
    data.write_text(json.dumps(_jsonable(payload), indent=2) + "\n")
    return [markdown, data]
