"""Markdown of the performance benchmark: tables, the introduction and the findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xsup.bench._common import mean_std

__all__ = ["epoch_table", "findings", "intro", "memory_table", "plot_scaling", "profile_tables",
           "scaling_table", "threshold_table", "throughput_table", "tsr_table", "wider_table"]

#: Configurations of the wider-backbone table.
STES_LABELS = ("STES", "STES-I (no interpolator)")

#: What the GPU-utilisation column says on a machine without CUDA.
NO_GPU = "n/a (CPU)"

#: Explainers timed by ``explain_throughput``; the perturbation methods and TSR, which run the
#: model hundreds of times per sample, are timed on ``SLOW_SAMPLES`` samples.
THROUGHPUT_METHODS = ("gradcam", "gradient", "integrated_gradients", "smoothgrad", "deeplift",
                      "gradient_shap", "deep_shap", "occlusion", "feature_ablation",
                      "feature_permutation", "shapley_sampling", "random", "tsr")
SLOW_METHODS = ("feature_ablation", "shapley_sampling", "tsr")
SLOW_SAMPLES = 16


def _gpu(value: float | None) -> str:
    return NO_GPU if value is None else f"{value:.0f}%"

def epoch_table(epochs: dict[str, Any]) -> str:
    def spread(values: list[float]) -> str:
        mean, std = mean_std(values)
        return f"{mean:.3f} ± {std:.3f}"

    n_train = epochs["n_train"]
    lines = ["| configuration | s / epoch | every round (mean ± std) | ratio to baseline | target "
             "| paper | samples/s | GPU utilisation |", "|---|---|---|---|---|---|---|---|",
             f"| Baseline (loss=none) | {epochs['baseline_epoch_s']:.3f} | "
             f"{spread(epochs['baseline_rounds_s'])} | 1.00 | | | "
             f"{n_train / epochs['baseline_epoch_s']:.0f} | {_gpu(epochs['baseline_gpu'])} |"]
    for name, row in epochs["ratios"].items():
        target = f"<= {row['target']}" if row["target"] else ""
        if row["target"]:
            target += " (met)" if row["ratio"] <= row["target"] else " (missed)"
        paper = f"{row['paper']:.2f}" if row["paper"] else ""
        lines.append(f"| {name} | {row['epoch_s']:.3f} | {spread(row['rounds_s'])} | "
                     f"{row['ratio']:.2f} | {target} | {paper} | {n_train / row['epoch_s']:.0f} "
                     f"| {_gpu(row['gpu'])} |")
    return "\n".join(lines)


def _default_channels() -> tuple[int, ...]:
    import inspect

    from xsup.modules.cnn_gru import CNNGRU

    return tuple(inspect.signature(CNNGRU).parameters["channels"].default)


def _wider_rows(epochs: dict[str, Any], wider: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The default width (from the main table) followed by the wider ones."""
    default = {"baseline_epoch_s": epochs["baseline_epoch_s"],
               "ratios": {name: epochs["ratios"][name]["ratio"] for name in STES_LABELS}}
    return {f"{_default_channels()} (default)": default, **wider}


def _interpolator_share(ratios: dict[str, float]) -> float:
    """Share of STES's time over the baseline that STES-I does not spend (the interpolator)."""
    extra = ratios["STES"] - 1.0
    return (ratios["STES"] - ratios["STES-I (no interpolator)"]) / extra if extra > 0 else 0.0


def wider_table(epochs: dict[str, Any], wider: dict[str, Any]) -> str:
    """STES and STES-I epoch ratios as the ``cnn_gru`` encoder widens."""
    lines = ["| cnn_gru channels | baseline s / epoch | STES ratio | STES-I ratio | "
             "interpolator's share of STES's extra time |", "|---|---|---|---|---|"]
    for label, row in _wider_rows(epochs, wider).items():
        ratios = row["ratios"]
        lines.append(f"| {label} | {row['baseline_epoch_s']:.3f} | {ratios['STES']:.2f} | "
                     f"{ratios['STES-I (no interpolator)']:.2f} | "
                     f"{_interpolator_share(ratios):.0%} |")
    return "\n".join(lines)


def profile_tables(profiles: dict[str, list[dict[str, Any]]]) -> str:
    parts = []
    for name, rows in profiles.items():
        parts += [f"{name}, one epoch, top operators by self CPU time:", "",
                  "| operator | self ms | share | calls |", "|---|---|---|---|"]
        parts += [f"| `{r['op']}` | {r['self_ms']:.1f} | {r['share']:.1%} | {r['calls']} |"
                  for r in rows]
        parts.append("")
    return "\n".join(parts).strip() or "Every configuration met its target; nothing profiled."


def threshold_table(threshold: dict[str, Any]) -> str:
    lines = ["| search | m | seconds |", "|---|---|---|",
             f"| adaptive_threshold, O(m log m) | {threshold['m']} | "
             f"{threshold['adaptive_s']:.5f} |"]
    lines += [f"| brute force, O(m²) | {m} | {s:.4f} |"
              for m, s in zip(threshold["brute_force_m"], threshold["brute_force_s"], strict=True)]
    if threshold["brute_force_m"][-1] != threshold["m"]:
        lines.append(f"| brute force, extrapolated (x m²) | {threshold['m']} | "
                     f"{threshold['brute_force_extrapolated_s']:.2f} |")
    lines.append(f"| **speed-up** | {threshold['m']} | **{threshold['speedup']:.0f}x** |")
    return "\n".join(lines)


def throughput_table(throughput: dict[str, Any]) -> str:
    """One row per explainer, one column per input kind (with its default backbone)."""
    from xsup.estimators._parameters import AUTO_MODULE

    kinds = list(throughput)
    lines = ["| explainer | " + " | ".join(f"{k} ({AUTO_MODULE[k]})" for k in kinds) + " |",
             "|---|" + "---|" * len(kinds)]
    for method in THROUGHPUT_METHODS:
        cells = [f"{throughput[k][method]:.0f}" if throughput[k].get(method) else "n/a"
                 for k in kinds]
        note = f" ({SLOW_SAMPLES} samples)" if method in SLOW_METHODS else ""
        lines.append(f"| {method}{note} | " + " | ".join(cells) + " |")
    lines.append("| GPU utilisation | " + " | ".join(_gpu(throughput[k].get("gpu")) for k in kinds)
                 + " |")
    return "\n".join(lines)


def scaling_table(scaling: dict[str, Any]) -> str:
    lines = ["| grows | values | seconds | log-log slope |", "|---|---|---|---|"]
    for axis, row in scaling.items():
        seconds = ", ".join(f"{s:.3f}" for s in row["seconds"])
        lines.append(f"| {axis} | {', '.join(map(str, row['values']))} | {seconds} | "
                     f"{row['slope']:.2f} |")
    return "\n".join(lines)


def memory_table(memory: dict[str, Any]) -> str:
    """Peak RSS of the memory-mapped runs at N and 10 N, and their ratio."""
    mib = 2.0**20
    lines = ["| samples | X + E on disk (MiB) | peak RSS (MiB) | peak after imports (MiB) |",
             "|---|---|---|---|"]
    for run in memory["runs"]:
        lines.append(f"| {run['n']} | {run['data_bytes'] / mib:.0f} | "
                     f"{run['peak_rss_bytes'] / mib:.0f} | {run['rss_after_imports'] / mib:.0f} |")
    verdict = "met" if memory["ratio"] <= memory["target"] else "missed"
    lines.append(f"| **ratio 10 N / N** | | **{memory['ratio']:.2f}** | target <= "
                 f"{memory['target']} ({verdict}); a full copy of X would give >= "
                 f"{memory['copy_ratio']:.2f} |")
    return "\n".join(lines)


def tsr_table(tsr: dict[str, Any]) -> str:
    """Batched TSR against the per-sample loop."""
    return "\n".join([
        "| n x t x f | base | loop (s) | batched (s) | speed-up | max abs difference |",
        "|---|---|---|---|---|---|",
        f"| {tsr['n']} x {tsr['t']} x {tsr['f']} | {tsr['base']} | {tsr['loop_seconds']:.3f} | "
        f"{tsr['batched_seconds']:.3f} | **{tsr['speedup']:.1f}x** | "
        f"{tsr['max_abs_difference']:.2g} |",
    ])


def intro(settings: Any, device: str) -> str:
    extrapolation = ("" if settings.brute_force_m[-1] == settings.threshold_m else
                     f", and extrapolated to m = {settings.threshold_m} as m²")
    return f"""\
Device: `{device}` (estimators built with `device="auto"`). All numbers come from this one run.

Epoch ratios: `cnn_gru` with Grad-CAM on `make_spatiotemporal_events` defaults (T = 4 frames
of 1 x 16 x 16), {settings.n_train} sequences, batch {settings.batch_size}, {settings.epochs}
epochs, no validation split; the epoch time is the median of skorch's history `dur` over the
epochs after the first, and each configuration keeps its fastest of {settings.rounds} rounds
(the configurations are fitted in turn in every round). Every loss gets the outside of the
boxes marked -1 (RES needs negatives; the others clip the target to [0, 1]).
`create_graph=False` detaches the saliency map's gradient from the weights (no double
backward): cheaper, but the explanation term then trains only through the parts of the map
that are not a gradient (Grad-CAM's activations, not its channel weights).
STES on wider backbones: baseline, STES and STES-I timed the same way with `cnn_gru`
`channels` {', '.join(map(str, settings.wider_channels))}, each against the baseline of its width.

RES threshold: one row of m random saliency values, 30% positive and 40% negative cells;
best of {5 * settings.repeats} calls of `adaptive_threshold` at m = {settings.threshold_m}
against a vectorised brute force that counts the satisfied constraints for every candidate
(O(m²)), timed once at m = {', '.join(map(str, settings.brute_force_m))}{extrapolation}
(its log-log slope is in results.json). Both searches reach the same best count at every size
timed.

`explain`: the default backbone of each input kind (`module="auto"`, one epoch on 16 random
samples), best of {settings.repeats} calls on {settings.n_explain} samples (16 for feature
ablation, Shapley sampling and TSR, which run the model hundreds of times per sample;
explainers with their default options). Scaling: Grad-CAM
on `cnn_gru`, one of N, T, H x W grown at a time (others N = {settings.grid_n[0]}, T = 4,
H = W = 16). Samples/s of training is the training set over the epoch time; GPU utilisation
is sampled right after the timed calls (`torch.cuda.utilization`, else `nvidia-smi`).

Memory: X (N, 1, 32, 32) float32 and E (N, 32, 32) int8 written as `.npy` files, opened with
`mmap_mode="r"` in a fresh process for each N ({settings.memory_n} and 10 times that), which
fits one epoch of `cnn` with GRADIA, predicts, and explains 16 batches at a time; the peak
resident set size (`VmHWM`) of that process is reported. Pages read from the memory map
count until dropped. "A full copy of X would give" is the ratio had the run at 10 N also held
X in memory once.

TSR: `measure_tsr_speedup` (batched Temporal Saliency Rescaling against the per-sample,
per-step, per-feature loop on an untrained TCN) at n x t x f = {settings.tsr_size}."""


def findings(epochs: dict[str, Any], wider: dict[str, Any], threshold: dict[str, Any],
             memory: dict[str, Any], tsr: dict[str, Any]) -> str:
    lines = ["## Findings", ""]
    for name, row in epochs["ratios"].items():
        if row["target"]:
            verdict = "meets" if row["ratio"] <= row["target"] else "misses"
            lines.append(f"- {name}: {row['ratio']:.2f}x the baseline epoch, {verdict} the target "
                         f"<= {row['target']} (paper: {row['paper']:.2f}).")
    base = epochs["baseline_epoch_s"]
    for label in ("STES", "SGT"):
        full, detached = epochs["ratios"][label], epochs["ratios"][f"{label} (create_graph=False)"]
        extra = full["epoch_s"] - base
        if extra > 0:
            share = max(full["epoch_s"] - detached["epoch_s"], 0.0) / extra
            lines.append(f"- {label}: the double backward (`create_graph=True` minus `False`) is "
                         f"{share:.0%} of its time over the baseline; the rest is the explanation "
                         "pass itself (saliency maps, interpolation or masking, extra forwards).")
    rows = _wider_rows(epochs, wider)
    lines.append("- STES as the backbone widens (cnn_gru channels): " + ", ".join(
        f"{label} {row['ratios']['STES']:.2f} (STES-I {row['ratios'][STES_LABELS[1]]:.2f}, "
        f"interpolator {_interpolator_share(row['ratios']):.0%} of the extra time)"
        for label, row in rows.items()) + ". The learned interpolator costs the same per batch "
        "whatever the backbone, so its share of an epoch shrinks as the backbone grows.")
    for name, rows in epochs["profiles"].items():
        top = ", ".join(f"`{row['op']}` {row['share']:.0%}" for row in rows[:3])
        lines.append(f"- {name} profile: {top} of the self CPU time of one epoch.")
    verdict = "meets" if threshold["speedup"] >= 100 else "misses"
    lines.append(f"- RES threshold search: {threshold['speedup']:.0f}x faster than brute force at "
                 f"m = {threshold['m']}, {verdict} the target >= 100x.")
    verdict = "meets" if memory["ratio"] <= memory["target"] else "misses"
    lines.append(f"- Memory-mapped data: peak RSS at 10 N is {memory['ratio']:.2f}x that at N, "
                 f"{verdict} the target <= {memory['target']}.")
    verdict = "meets" if tsr["speedup"] >= 20 else "misses"
    lines.append(f"- TSR: batched is {tsr['speedup']:.1f}x faster than the per-sample loop, "
                 f"{verdict} the target >= 20x (max abs difference of the maps "
                 f"{tsr['max_abs_difference']:.2g}). Per masked input, the loop spends "
                 f"{1e3 * tsr['loop_seconds'] / tsr['loop_calls']:.3f} ms (one explainer call "
                 f"each) and the batched path {1e3 * tsr['batched_seconds'] / tsr['loop_calls']:.3f}"
                 " ms (the model's forward and input gradient in batches): batching removes the "
                 "per-call overhead, not the model's own arithmetic, which bounds the speed-up.")
    return "\n".join(lines)


def plot_scaling(scaling: dict[str, Any], path: Path) -> None:
    """The log-log figure of explain time against N, T and H x W."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(scaling), figsize=(4 * len(scaling), 3.4))
    for ax, (axis, row) in zip(np.atleast_1d(axes), scaling.items(), strict=True):
        ax.loglog(row["sizes"], row["seconds"], "o-")
        ax.set_xlabel(axis if axis != "H x W" else "H x W (pixels per frame)")
        ax.set_ylabel("explain time (s)")
        ax.set_title(f"{axis}: slope {row['slope']:.2f}")
        ax.grid(True, which="both", alpha=0.3)
    figure.suptitle("Grad-CAM explain on cnn_gru raster sequences")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
