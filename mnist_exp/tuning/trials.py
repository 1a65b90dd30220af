"""One trial = one or more ordinary training runs (`run_job`, as a command's) of a composed
config.

This is the tuner's hypermodel: the trial's values become Hydra overrides, and the same
config composition, model builders, data pipeline, strategy and callbacks as
`python -m mnist_exp` do the rest. Each execution is a complete run directory, so
`mnist-exp-compare`, TensorBoard and `mnist-exp-resume` work on trials as on any run.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from mnist_exp import signals
from mnist_exp.errors import ConfigError, MnistExpError
from mnist_exp.reporting.tensorboard_names import write_swept_keys
from mnist_exp.runs.status import Status
from mnist_exp.settings import ObjectiveSettings, parse_settings
from mnist_exp.training.job import Job, RunDiverged, run_job
from mnist_exp.tuning.overrides import render
from mnist_exp.tuning.preset import Composer
from mnist_exp.tuning.settings import TunerSettings
from mnist_exp.tuning.space import SearchSpace

log = logging.getLogger(__name__)

EPOCHS_VALUE = "tuner/epochs"  # set by Hyperband for each trial


class TrialFailed(Exception):
    """A trial that cannot score: its reason goes into the trials table."""


def best_score(metrics: dict, run_dir: Path) -> float:
    """The run's objective (its best epoch's value, which the run recorded)."""
    score = float(metrics.get("objective", math.nan))  # metrics.json writes NaN as "nan"
    if not math.isfinite(score):
        raise TrialFailed(f"no finite {metrics.get('objective_name')} in {run_dir}")
    return score


def _diverged(epochs_run: int) -> str:
    return f"diverged (non-finite loss after epoch {epochs_run})"


def first_value(parameter) -> object:
    """The value a search starts from, as Keras Tuner picks it."""
    if parameter.default is not None:
        return parameter.default
    if parameter.values:
        return parameter.values[0]
    return parameter.min if parameter.type in ("float", "int") else False


class TrialRunner:
    """Turns a trial's values into training runs and their score.

    Args:
        compose: composes the training config for a list of overrides.
        base_overrides: the user's training overrides (kept in every trial and the preset).
        space: the search space.
        tuner: the tuner settings (epochs and executions per trial).
        objective: what a trial scores.
    """

    def __init__(
        self,
        compose: Composer,
        base_overrides: list[str],
        space: SearchSpace,
        tuner: TunerSettings,
        objective: ObjectiveSettings,
    ):
        self.compose = compose
        self.base_overrides = list(base_overrides)
        self.space = space
        self.tuner = tuner
        self.objective = objective
        self.seed = int(compose(self.base_overrides)[0].seed)

    def preset_overrides(self, values: dict) -> list[str]:
        """The winning configuration as overrides of the default config (no search-only ones)."""
        return self.base_overrides + render(self.space.assignments(values))

    def trial_overrides(self, values: dict) -> list[str]:
        epochs = int(values.get(EPOCHS_VALUE, self.tuner.max_epochs))
        return (
            self.base_overrides
            + render(self.space.during_search)
            + render(self.space.assignments(values))
            + [f"trainer.epochs={epochs}"]
        )

    def preflight(self) -> None:
        """Composes and checks the default trial and each choice of every searched group, so a
        wrong key or option fails now, in one message, not after hours of trials.

        Raises:
            ConfigError: naming the search key and what went wrong.
        """
        defaults = {p.key: first_value(p) for p in self.space.parameters}
        probes = [{}]
        for parameter in self.space.parameters:
            if parameter.when_key is None and parameter.type == "choice":
                probes += [{parameter.key: value} for value in parameter.values]
        for probe in probes:
            assignments = {
                key: value
                for key, value in {**defaults, **probe}.items()
                if value is not None and self._active(key, {**defaults, **probe})
            }
            overrides = self.trial_overrides({}) + render(assignments)
            try:
                parse_settings(self.compose(overrides)[0])
            except MnistExpError as error:
                raise ConfigError(f"search space, trying {assignments}: {error}") from None
            except Exception as error:  # Hydra's composition errors
                cause = str(error.__cause__ or "").split("\n")[0]
                message = str(error).split("\n")[0] + (f" ({cause})" if cause else "")
                raise ConfigError(f"search space, trying {assignments}: {message}") from None

    def _active(self, key: str, values: dict) -> bool:
        parameter = next(p for p in self.space.parameters if p.key == key)
        return parameter.when_key is None or values.get(parameter.when_key) in parameter.when_values

    def run(self, trial_dir: Path, values: dict) -> float:
        """Trains the trial's executions (seeds seed, seed+1, ...) and returns the mean score.

        Raises:
            TrialFailed: with the reason, for a run that failed or diverged.
        """
        overrides = self.trial_overrides(values)
        # The trial's runs are named by what the search varies, not by what all trials share.
        named_by = [*self.space.keys, *(["trainer.epochs"] if EPOCHS_VALUE in values else [])]
        write_swept_keys(Path(trial_dir), named_by)
        scores = []
        for execution in range(self.tuner.executions_per_trial):
            seed = self.seed + execution
            run_dir = Path(trial_dir) / f"seed_{seed}"
            metrics = self._run_once(run_dir, [*overrides, f"seed={seed}"])
            if metrics["status"] != Status.COMPLETED:  # a diverged run the search had finished
                raise TrialFailed(_diverged(metrics["epochs_run"]))
            scores.append(best_score(metrics, run_dir))
        return sum(scores) / len(scores)

    def _run_once(self, run_dir: Path, overrides: list[str]) -> dict:
        """The run's metrics: trained, continued, or those of a run that finished before the
        search was stopped (the run's folder is held, decided on and recorded as a command's)."""
        try:
            cfg, choices = self.compose(overrides)
            job = Job(
                output_dir=run_dir,
                choices=choices,
                overrides=tuple(overrides),
                hydra={"runtime": {"choices": choices}},
                says_how_to_continue=False,  # the search does: its command continues the trial
            )
            return run_job(cfg, job)
        except Exception as error:
            # A stop raised inside Hydra's or OmegaConf's code can come out as their error:
            # the search stops, the trial is not a failure.
            if stop := signals.interrupt_behind(error):
                raise stop from error
            raise TrialFailed(_reason(error)) from None


def _reason(error: Exception) -> str:
    if isinstance(error, RunDiverged):  # its whole message is in the run's log
        return _diverged(error.epochs_run)
    if isinstance(error, MnistExpError):
        return str(error)
    return f"{type(error).__name__}: {error}"
