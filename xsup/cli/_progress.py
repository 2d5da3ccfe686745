"""A skorch callback that prints one plain line per epoch (no colours, no table)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from skorch.callbacks import Callback

__all__ = ["EpochProgress"]


class EpochProgress(Callback):
    """Print ``epoch i/n  loss ...  explanation ...  (seconds)`` after every epoch.

    Parameters
    ----------
    indent : str, default="    "
        Prefix of every line.
    stream : file-like or None, default=None
        Where to print; None is ``sys.stdout`` at the time of printing.
    """

    def __init__(self, indent: str = "    ", stream: TextIO | None = None) -> None:
        self.indent = indent
        self.stream = stream

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Print the last epoch's training loss, explanation (and reconstruction) term, duration."""
        row = net.history[-1]
        parts = [f"epoch {row['epoch']:>3}/{net.max_epochs}", f"loss {row['train_loss']:.4f}"]
        for term in ("explanation", "reconstruction"):
            if f"train_{term}" in row:
                parts.append(f"{term} {row[f'train_{term}']:.4f}")
        parts.append(f"({row['dur']:.1f} s)")
        print(self.indent + "  ".join(parts), file=self.stream or sys.stdout, flush=True)
