"""A run's lifecycle in one place: the statuses a run records, the outcomes a job reports,
and what happens when a run is asked for again.

    decide(run_dir, experiment)          a command or sweep run again into the same directory
    decide(run_dir, resume=True)         `resume=DIR` / mnist-exp-resume DIR

- Nothing there yet: START.
- A record of another config: REFUSE, nothing touched.
- The same config (or `resume`), finished (completed or diverged): SKIP (`resume`: REFUSE,
  there is nothing to continue).
- The same config, started but not finished (killed, interrupted, failed): CONTINUE from the
  last backup (from the first epoch when it had none).
- Recorded but never started (refused before training began): START, keeping the record.

Training jobs, the runner's library path, tuner trials and the search's retrain all ask here.
Nothing in this module imports training, tuning or Hydra.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path

from omegaconf import DictConfig

from mnist_exp.commands import shown
from mnist_exp.runs import artifacts, record
from mnist_exp.runs.migrate import upgraded_config


class Status(StrEnum):
    """What metrics.json says of a run."""

    RUNNING = "running"
    COMPLETED = "completed"
    DIVERGED = "diverged"  # non-finite loss; scored with its last finite checkpoint
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """A finished run is never trained again."""
        return self in (Status.COMPLETED, Status.DIVERGED)


FINISHED = frozenset(status for status in Status if status.finished)


class Outcome(StrEnum):
    """What one job did, as a sweep's summary counts it (in this order)."""

    SKIPPED = "skipped"
    RESUMED = "resumed"
    RUN = "run"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    DIVERGED = "diverged"
    REFUSED = "refused"

    @property
    def is_failure(self) -> bool:
        return self in (Outcome.FAILED, Outcome.INTERRUPTED, Outcome.DIVERGED, Outcome.REFUSED)


class Action(Enum):
    START = "start"
    CONTINUE = "continue"
    SKIP = "skip"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Decision:
    """What to do with a run directory, and why."""

    action: Action
    reason: str = ""  # a refusal's message (names the problem and the fix)
    metrics: dict = field(default_factory=dict)  # what the run recorded so far

    @property
    def status(self) -> str | None:
        return self.metrics.get("status")


def is_finished(metrics: dict | None) -> bool:
    """Whether a run's metrics say it finished (completed or diverged)."""
    return (metrics or {}).get("status") in FINISHED


def decide(run_dir: Path, experiment: DictConfig | None = None, resume: bool = False) -> Decision:
    """What happens to `run_dir` when it is asked for (see the module's doc).

    Args:
        run_dir: the run's directory.
        experiment: the config asked for; compared with a recorded one (None: not compared,
            as for `resume`, which continues with the run's own config).
        resume: the user named this run to continue it.
    """
    run_dir = Path(run_dir)
    metrics = artifacts.read_metrics(run_dir) or {}
    recorded = record.has_record(run_dir)
    if resume and not recorded and not metrics:
        return Decision(
            Action.REFUSE, f"{run_dir} is not a run directory (no {record.CONFIG_FILE})."
        )
    if recorded and experiment is not None and not resume:
        differences = record.config_differences(
            record.read_config(run_dir), upgraded_config(experiment)
        )
        if differences:  # the options chosen (model.name) first, then their keys
            differences.sort(key=lambda line: not line.split(":")[0].endswith(".name"))
            listed = "; ".join(differences[:5]) + (" ..." if len(differences) > 5 else "")
            return Decision(
                Action.REFUSE,
                f"{run_dir} already holds a different run ({listed}); nothing was changed. "
                f"Choose another directory for this one, or continue that run with "
                f"{shown('resume')} {run_dir}.",
                metrics,
            )
    if is_finished(metrics):
        if resume:
            return Decision(
                Action.REFUSE,
                f"{run_dir} already finished (status {metrics['status']}); nothing to resume, "
                "nothing was changed. Start a new run instead.",
                metrics,
            )
        return Decision(Action.SKIP, metrics=metrics)
    return Decision(Action.CONTINUE if metrics else Action.START, metrics=metrics)
