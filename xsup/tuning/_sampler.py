"""Seeding a search so that it is reproducible and yet never replays a trial.

A sampler seeded once per process replays its draws whenever a process
starts again: a study resumed with the same seed re-samples the parameters of
its first trials, and workers started with one seed sample the same
parameters side by side. Each trial's number is unique in its study (the
storage hands it out), so a sampler seeded from ``(random_state,
trial.number)`` draws something new for every trial, in any worker, while an
uninterrupted run with the same seed still numbers its trials 0, 1, 2, ...
and samples what it sampled before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from xsup.tuning._checks import check_random_state

__all__ = ["TrialSeededSampler"]


def _tpe(seed: int) -> BaseSampler:
    return optuna.samplers.TPESampler(seed=seed)


class TrialSeededSampler(BaseSampler):
    """A sampler reseeded for every trial from the study's seed and the trial's number.

    Each trial gets its own sampler, ``make_sampler(trial_seed(number))``,
    built before the trial samples and dropped after it ends. Samplers that
    read the stored trials (TPE, CMA-ES, ...) still learn from every finished
    trial of the study, whoever ran it; only their random draws change with
    the trial number.

    This is the rule :func:`~xsup.tuning.tune` follows with ``random_state``:

    - one uninterrupted run with the same seed samples the same parameters;
    - a resumed study, or several workers on one study, never re-sample a
      parameter set because they share a seed: trial numbers are unique.

    Parameters
    ----------
    seed : int
        Seed of the search, in ``[0, 2**32 - 1]``.
    make_sampler : callable or None, default=None
        ``make_sampler(seed) -> optuna sampler``; default
        ``optuna.samplers.TPESampler(seed=seed)``.

    Examples
    --------
    >>> import optuna
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> def draw(study, n):
    ...     study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=n)
    ...     return [trial.params["x"] for trial in study.trials]
    >>> first = draw(optuna.create_study(sampler=TrialSeededSampler(0)), 4)
    >>> again = draw(optuna.create_study(sampler=TrialSeededSampler(0)), 4)
    >>> first == again  # one seed, one run: the same parameters
    True
    >>> resumed = optuna.create_study(sampler=TrialSeededSampler(0))
    >>> _ = draw(resumed, 2)
    >>> resumed.sampler = TrialSeededSampler(0)  # a new process with the same seed
    >>> len(set(draw(resumed, 2)))  # trials 2 and 3 are new draws, not trials 0 and 1 again
    4
    """

    def __init__(
        self, seed: int, make_sampler: Callable[[int], BaseSampler] | None = None
    ) -> None:
        checked = check_random_state(seed)
        if checked is None:
            raise TypeError("seed must be an integer seed; got None.")
        if make_sampler is not None and not callable(make_sampler):
            raise TypeError(
                "make_sampler must be a callable seed -> optuna sampler; got "
                f"{type(make_sampler).__name__}."
            )
        self.seed = checked
        self.make_sampler = make_sampler
        self._samplers: dict[tuple[str, int], BaseSampler] = {}

    def trial_seed(self, number: int) -> int:
        """The seed of trial ``number``: a hash of the study's seed and the number.

        Examples
        --------
        >>> sampler = TrialSeededSampler(0)
        >>> sampler.trial_seed(1) == sampler.trial_seed(1) != sampler.trial_seed(2)
        True
        """
        return int(np.random.SeedSequence([self.seed, number]).generate_state(1)[0])

    def _sampler(self, study: optuna.Study, trial: FrozenTrial) -> BaseSampler:
        key = (study.study_name, trial.number)
        sampler = self._samplers.get(key)
        if sampler is None:
            seed = self.trial_seed(trial.number)
            sampler = (self.make_sampler or _tpe)(seed)
            if not isinstance(sampler, BaseSampler):
                raise TypeError(
                    f"make_sampler({seed}) must return an optuna sampler; got "
                    f"{type(sampler).__name__}."
                )
            self._samplers[key] = sampler
        return sampler

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._sampler(study, trial).before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._sampler(study, trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._sampler(study, trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._sampler(study, trial).sample_independent(
            study, trial, param_name, param_distribution
        )

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        sampler = self._sampler(study, trial)
        self._samplers.pop((study.study_name, trial.number), None)
        sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """Nothing to do: every trial already gets a seed of its own."""
