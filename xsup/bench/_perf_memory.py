"""Peak memory of training and explaining from memory-mapped files, and the GPU's utilisation.

:func:`streaming_peak_rss` writes X and E as ``.npy`` files and, in a fresh
Python process (so that nothing else lingers in its memory), opens them with
``mmap_mode="r"``, fits one epoch, predicts, and explains batch by batch
(reducing each batch of maps, as a user streaming the maps to disk would);
the process reports its peak resident set size (``VmHWM``, or ``ru_maxrss``
where there is no ``/proc``). Run for N and
10·N samples, the ratio of the two peaks shows whether anything copied the
data set into memory.

Pages of a memory map that were read count toward the resident set while the
kernel keeps them mapped; the worker therefore drops its mapping's pages
(``madvise(MADV_DONTNEED)``, which leaves them in the page cache) after each
pass over the data, as a long-running job under memory pressure would see
the kernel do.
"""

from __future__ import annotations

import json
import mmap
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["gpu_utilisation", "memory_ratio", "streaming_peak_rss"]

#: Sample shape of the streamed images and of their annotations.
IMAGE_SHAPE = (1, 32, 32)


def _peak_rss_bytes() -> int:
    """Peak resident set size of this process in bytes.

    Linux keeps ``ru_maxrss`` across ``fork``/``exec``, so a child started by
    a large parent reports the parent's peak; ``VmHWM`` (the same peak, for
    this process's own memory) is read where ``/proc`` has it.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux


def _write_data(folder: Path, n: int, seed: int) -> tuple[Path, Path, np.ndarray]:
    """X (n, 1, 32, 32) float32 and E (n, 32, 32) as .npy files, written in chunks."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x_path, e_path = folder / f"X_{n}.npy", folder / f"E_{n}.npy"
    X = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32, shape=(n, *IMAGE_SHAPE))
    E = np.lib.format.open_memmap(e_path, mode="w+", dtype=np.int8, shape=(n, *IMAGE_SHAPE[1:]))
    y = np.empty(n, dtype=np.int64)
    for start in range(0, n, 4096):
        stop = min(n, start + 4096)
        chunk = rng.standard_normal((stop - start, *IMAGE_SHAPE)).astype(np.float32)
        X[start:stop] = chunk
        y[start:stop] = chunk[:, 0, :16, :16].mean(axis=(1, 2)) > 0
        E[start:stop] = -1
        E[start:stop, :16, :16] = 1
    X.flush()
    E.flush()
    del X, E
    return x_path, e_path, y


def _release(*arrays: Any) -> None:
    """Drop the pages of read-only memory maps from this process (they stay in the page cache)."""
    for array in arrays:
        mapping = getattr(array, "_mmap", None)
        if isinstance(mapping, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            mapping.madvise(mmap.MADV_DONTNEED)


def _worker(x_path: str, e_path: str, y_path: str, batch_size: int) -> dict[str, Any]:
    """Fit, predict and explain from memory maps in this process; return the peak RSS."""
    import torch

    from xsup import ExplanationSupervisedClassifier

    torch.set_num_threads(1)
    before = _peak_rss_bytes()
    X = np.load(x_path, mmap_mode="r")
    E = np.load(e_path, mmap_mode="r")
    y = np.load(y_path)
    model = ExplanationSupervisedClassifier(
        module="cnn", loss="gradia", max_epochs=1, batch_size=batch_size, train_split=None,
        verbose=0, random_state=0, device="cpu",
    ).fit(X, y, E)
    _release(X, E)
    accuracy = float((model.predict(X) == y).mean())
    _release(X)
    mass = 0.0
    for start in range(0, len(X), 16 * batch_size):
        mass += float(model.explain(X[start:start + 16 * batch_size]).sum())
        _release(X)
    return {"n": len(X), "peak_rss_bytes": _peak_rss_bytes(), "rss_after_imports": before,
            "accuracy": accuracy, "saliency_mass": mass}


def streaming_peak_rss(folder: Path, n: int, *, seed: int = 0, batch_size: int = 64
                       ) -> dict[str, Any]:
    """Peak RSS of a fresh process that fits, predicts and explains n memory-mapped images.

    Parameters
    ----------
    folder : pathlib.Path
        Where the ``.npy`` files are written (they are removed afterwards).
    n : int
        Number of samples.
    seed : int, default=0
        Seed of the data.
    batch_size : int, default=64
        Training batch size; ``explain`` reads 16 batches at a time.

    Returns
    -------
    dict
        ``n``, ``peak_rss_bytes``, ``rss_after_imports`` (the peak before
        the data is opened), ``data_bytes`` (size of X and E on disk),
        ``accuracy`` and ``saliency_mass`` (proof that the work was done).
    """
    x_path, e_path, y = _write_data(folder, n, seed)
    y_path = folder / f"y_{n}.npy"
    np.save(y_path, y)
    code = ("import json, sys; from xsup.bench._perf_memory import _worker; "
            "print(json.dumps(_worker(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))))")
    try:
        completed = subprocess.run(
            [sys.executable, "-c", code, str(x_path), str(e_path), str(y_path), str(batch_size)],
            capture_output=True, text=True, check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"the memory-mapped run failed:\n{completed.stderr[-2000:]}")
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        result["data_bytes"] = x_path.stat().st_size + e_path.stat().st_size
    finally:
        for path in (x_path, e_path, y_path):
            path.unlink(missing_ok=True)
    return result


def gpu_utilisation() -> float | None:
    """Current utilisation of the first CUDA device in percent, or None without one.

    ``torch.cuda.utilization`` (needs ``pynvml``) first, else ``nvidia-smi``.
    """
    import torch

    if not torch.cuda.is_available():
        return None
    try:
        return float(torch.cuda.utilization())
    except Exception:  # pynvml missing or NVML unavailable: ask nvidia-smi
        pass
    try:
        completed = subprocess.run(
            ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
             "--id=0"], capture_output=True, text=True, timeout=10, check=True,
        )
        return float(completed.stdout.strip().splitlines()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def memory_ratio(n: int, folder: Path, *, seed: int = 0, target: float = 1.3) -> dict[str, Any]:
    """Peak RSS of memory-mapped runs at ``n`` and ``10 n`` samples, each in a fresh process.

    Returns
    -------
    dict
        ``runs`` (two :func:`streaming_peak_rss` results), ``ratio`` (10 n over
        n), ``copy_ratio`` (the ratio had the 10 n run held X in memory once
        more) and ``target``.
    """
    runs = [streaming_peak_rss(folder, size, seed=seed) for size in (n, 10 * n)]
    folder.rmdir()
    small, large = runs
    x_bytes = 10 * n * 4 * int(np.prod(IMAGE_SHAPE))
    return {"runs": runs, "ratio": large["peak_rss_bytes"] / small["peak_rss_bytes"],
            "copy_ratio": (large["peak_rss_bytes"] + x_bytes) / small["peak_rss_bytes"],
            "target": target}
