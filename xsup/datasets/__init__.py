"""Synthetic, offline data sets with ground-truth explanations.

Every generator returns ``(X, y, E, ...)``: inputs, labels and annotations
shaped as described in the data contract (E: 1 should matter, -1 should not,
0 not annotated, NaN missing), possibly followed by more items.
:func:`corrupt_annotations` makes exact annotations noisy or partial.
"""

from xsup.datasets._corrupt import CORRUPTIONS, corrupt_annotations
from xsup.datasets._decoy_digits import load_decoy_digits
from xsup.datasets._processes import TS_PROCESSES, sample_ts_process
from xsup.datasets._spatiotemporal import make_spatiotemporal_events
from xsup.datasets._ts_benchmark import TS_BENCHMARK_KINDS, make_ts_benchmark

__all__ = [
    "CORRUPTIONS",
    "TS_BENCHMARK_KINDS",
    "TS_PROCESSES",
    "corrupt_annotations",
    "load_decoy_digits",
    "make_spatiotemporal_events",
    "make_ts_benchmark",
    "sample_ts_process",
]
