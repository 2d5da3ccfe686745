"""Synthetic, offline data sets with ground-truth explanations.

Every generator returns ``(X, y, E)``: inputs, labels and annotations shaped
as described in the data contract (E: 1 should matter, -1 should not, 0 not
annotated, NaN missing).
"""

from xsup.datasets._spatiotemporal import make_spatiotemporal_events

__all__ = ["make_spatiotemporal_events"]
