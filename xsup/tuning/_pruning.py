"""Pruning cross-validated trials from skorch's per-epoch history."""

from __future__ import annotations

from typing import Any

import optuna
from optuna_integration import SkorchPruningCallback

__all__ = ["FoldPruningCallback"]


class FoldPruningCallback(SkorchPruningCallback):
    """Report a history column to an Optuna trial after each epoch, across CV folds.

    Optuna's :class:`~optuna_integration.SkorchPruningCallback` reports epoch
    ``e`` as step ``e``, so a second fold would re-report steps Optuna already
    holds (and ignores), and it reports the raw value, so a loss would be read
    as a score by a maximising study. This callback reports fold ``f``'s epoch
    ``e`` as step ``f * max_epochs + e`` and multiplies the value by ``sign``
    (``-1`` turns a loss into a score for a maximising study).

    Parameters
    ----------
    trial : optuna.trial.Trial
        The trial being evaluated.
    monitor : str
        History column, e.g. ``"valid_loss"`` or ``"valid_acc"``.
    offset : int, default=0
        Step of the first epoch (``fold * max_epochs``).
    sign : {1, -1}, default=1
        Factor applied to the reported value.

    Examples
    --------
    >>> import optuna
    >>> trial = optuna.create_study().ask()
    >>> FoldPruningCallback(trial, "valid_loss", offset=20, sign=-1).offset
    20
    """

    def __init__(self, trial: Any, monitor: str, offset: int = 0, sign: int = 1) -> None:
        super().__init__(trial, monitor)
        if sign not in (1, -1):
            raise ValueError(f"sign must be 1 or -1; got {sign!r}.")
        self.offset = int(offset)
        self.sign = sign

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Report the monitored value and raise ``optuna.TrialPruned`` if the pruner says so."""
        history = net.history
        if not history:
            return
        epoch = len(history) - 1
        step = self.offset + epoch
        self._trial.report(self.sign * float(history[-1, self._monitor]), step)
        if self._trial.should_prune():
            raise optuna.TrialPruned(f"Trial was pruned at step {step} (epoch {epoch}).")
