"""The Keras Tuner tuner of mnist_exp: any oracle, trials run by a TrialRunner, progress
that reads well (trial i of N, time, best so far), state written atomically."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from keras_tuner.engine.base_tuner import BaseTuner
from keras_tuner.errors import FailedTrialError

from mnist_exp.safe_files import write_text_atomically
from mnist_exp.tuning.space import SearchSpace
from mnist_exp.tuning.trials import EPOCHS_VALUE, TrialFailed, TrialRunner

log = logging.getLogger("mnist_exp.tune")


def describe(space: SearchSpace, values: dict) -> str:
    shown = {**space.assignments(values)}
    if EPOCHS_VALUE in values:
        shown["epochs"] = values[EPOCHS_VALUE]
    return ", ".join(f"{key}={value}" for key, value in shown.items())


class ConfigTuner(BaseTuner):
    """Runs each trial through `runner`; `on_trial_ended` is called after each one.

    Args:
        oracle: a Keras Tuner oracle (see oracles.build_oracle).
        directory: where the search lives.
        project_name: the folder in `directory` that holds Keras Tuner's state and trials.
        runner: runs a trial's values, returns its score.
        max_trials: the planned number of trials, for progress lines (None: unknown).
        on_trial_ended: called with the tuner after each trial (e.g. to rewrite the table).
    """

    def __init__(
        self,
        oracle,
        directory: Path,
        project_name: str,
        runner: TrialRunner,
        max_trials: int | None,
        on_trial_ended: Callable[[ConfigTuner], None] | None = None,
    ):
        self.runner = runner
        self.max_trials = max_trials
        self.on_trial_ended = on_trial_ended
        self._started = time.monotonic()
        self._trial_started = 0.0
        self._ended_here = 0
        super().__init__(
            oracle=oracle, hypermodel=None, directory=str(directory), project_name=project_name
        )

    def _time_left(self, elapsed: float) -> str:
        """`, about 12 min left`, from this session's mean trial time (empty without a
        trial budget: Hyperband's is its own; nor on distributed workers, which see only
        their own trials)."""
        if not self.max_trials or self._is_worker():
            return ""
        left = self.max_trials - len(self.oracle.end_order)
        if left <= 0:
            return ""
        minutes = left * elapsed / self._ended_here / 60
        return f", about {minutes:.1f} min left ({left} trial{'s' if left > 1 else ''} to go)"

    def _number(self, trial) -> str:
        number = int(trial.trial_id) + 1
        return f"{number}/{self.max_trials}" if self.max_trials else str(number)

    def run_trial(self, trial, *args, **kwargs):
        try:
            score = self.runner.run(
                Path(self.get_trial_dir(trial.trial_id)), trial.hyperparameters.values
            )
        except TrialFailed as error:
            raise FailedTrialError(str(error)) from None
        return {self.oracle.objective.name: score}

    def on_trial_begin(self, trial):
        self._trial_started = time.monotonic()
        log.info(
            "trial %s (id %s) starting: %s",
            self._number(trial),
            trial.trial_id,
            describe(self.runner.space, trial.hyperparameters.values),
        )

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        seconds = time.monotonic() - self._trial_started
        ended = self.oracle.get_trial(trial.trial_id)
        best = self.oracle.get_best_trials(1)
        best_text = (
            f"best so far {best[0].score:.4f} (trial {best[0].trial_id})"
            if best and best[0].score is not None
            else "no completed trial yet"
        )
        if ended.score is not None and ended.status == "COMPLETED":
            outcome = f"{self.oracle.objective.name}={ended.score:.4f}"
        else:
            outcome = f"{ended.status}: {failure_reason(ended)}"
        self._ended_here += 1
        elapsed = time.monotonic() - self._started
        log.info(
            "trial %s (id %s) done in %.0f s: %s; %s; %.1f min elapsed%s",
            self._number(trial),
            trial.trial_id,
            seconds,
            outcome,
            best_text,
            elapsed / 60,
            self._time_left(elapsed),
        )
        if self.on_trial_ended:
            self.on_trial_ended(self)

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        write_text_atomically(self._get_tuner_fname(), json.dumps(self.get_state()))


def failure_reason(trial) -> str:
    """The last line of a failed trial's message (Keras Tuner keeps the whole traceback)."""
    lines = [line for line in (trial.message or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1].removeprefix("keras_tuner.src.errors.FailedTrialError: ")
