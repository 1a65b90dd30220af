"""One Hydra job: which directory it works in, with which config, and whether it starts,
continues, skips or refuses a run there (decided by `mnist_exp.runs.status.decide`).
`resume=DIR` continues the run in DIR with DIR's saved config; only overrides that do not
change the experiment are accepted.

The directory is held with an OS lock for the whole job, so two processes never write into
one run.
"""

from __future__ import annotations

import logging
import re
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from mnist_exp import signals
from mnist_exp.commands import shown
from mnist_exp.errors import ConfigError, MnistExpError
from mnist_exp.runs import artifacts, record
from mnist_exp.runs.lock import RunLock
from mnist_exp.runs.status import Action, Decision, Outcome, Status, decide
from mnist_exp.settings import ExperimentSettings, parse_settings
from mnist_exp.training.cluster import is_chief_process
from mnist_exp.training.runner import record_failure, run_checked
from mnist_exp.training.stop import interrupt_on_signals
from mnist_exp.training.threads import cpu_share

log = logging.getLogger("mnist_exp")

RESUME_KEY = "resume"
HYDRA_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # outputs/${now:%Y-%m-%d}/...
# Overrides that change how a run reports, not what it computes.
ALLOWED_RESUME_OVERRIDES = ("trainer.verbose",)


class RunDiverged(MnistExpError):
    """The run ended with a non-finite loss (recorded as status 'diverged') after its epoch
    `epochs_run`."""

    def __init__(self, message: str, epochs_run: int):
        super().__init__(message)
        self.epochs_run = epochs_run


@dataclass(frozen=True)
class Job:
    """What Hydra tells a job: its directory, choices, overrides and settings."""

    output_dir: Path
    choices: dict = field(default_factory=dict)
    overrides: tuple[str, ...] = ()
    hydra: dict = field(default_factory=dict)  # Hydra's own config, saved as .hydra/hydra.yaml
    sweep_dir: Path | None = None  # in a multirun: where the job notes its outcome
    job_number: int = 0
    cpu_share: int | None = None  # cores for this job when a launcher runs several at once
    says_how_to_continue: bool = True  # False in a search, whose own command continues it

    @classmethod
    def from_hydra(cls) -> Job:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
        multirun = hydra.mode == RunMode.MULTIRUN
        return cls(
            output_dir=Path(hydra.runtime.output_dir),
            choices=dict(hydra.runtime.choices),
            # Unresolved: iterating the ListConfig would resolve `${oc.env:...}` in them.
            overrides=tuple(OmegaConf.to_container(hydra.overrides.task, resolve=False)),
            hydra=OmegaConf.to_container(hydra, resolve=False),
            sweep_dir=Path(hydra.sweep.dir) if multirun else None,
            job_number=int(hydra.job.num) if multirun else 0,
            cpu_share=cpu_share(OmegaConf.to_container(hydra.launcher)) if multirun else None,
        )

    def note_outcome(self, outcome: str, run_dir: Path) -> None:
        if self.sweep_dir is not None:
            from mnist_exp.reporting.sweep_summary import record_outcome

            record_outcome(self.sweep_dir, self.job_number, outcome, run_dir)


def resume_dir_of(cfg: DictConfig) -> Path | None:
    if RESUME_KEY not in cfg or OmegaConf.is_missing(cfg, RESUME_KEY):
        return None
    value = cfg[RESUME_KEY]
    return None if value in (None, "") else Path(str(value))


def without_resume(cfg: DictConfig) -> DictConfig:
    """The experiment's config: `cfg` without the `resume` key (which is about the command)."""
    copy = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    copy.pop(RESUME_KEY, None)
    return copy


def saved_config_with(run_dir: Path, overrides: list[str]) -> DictConfig:
    """The run's saved config with the allowed `overrides` applied.

    Raises:
        MnistExpError: for a directory that is not a run, or an override that would change
            the experiment.
    """
    if not record.has_record(run_dir):
        raise MnistExpError(f"{run_dir} is not a run directory (no {record.CONFIG_FILE}).")
    cfg = record.read_config(run_dir)
    for override in overrides:
        key, separator, value = override.partition("=")
        if not separator:
            raise MnistExpError(f"Override '{override}' is not KEY=VALUE.")
        if key not in ALLOWED_RESUME_OVERRIDES:
            raise MnistExpError(
                f"Refusing '{override}' on a resume: it would change the experiment. "
                f"Allowed: {', '.join(ALLOWED_RESUME_OVERRIDES)}. Start a new run to change it."
            )
        OmegaConf.update(cfg, key, yaml.safe_load(value))
    return cfg


def _resume_overrides(overrides) -> list[str]:
    return [o for o in overrides if not o.lstrip("+~").startswith(f"{RESUME_KEY}=")]


def run_job(cfg: DictConfig, job: Job) -> dict:
    """Starts, continues, skips or refuses the run `cfg` describes: the config is checked
    and the run's folder decided on (`runs.status.decide`) once, here. Every MnistExpError
    is logged here once (into the run's train.log too, once it has one).

    Returns:
        The run's metrics (those of the earlier run when it had already finished).

    Raises:
        MnistExpError: for a refusal (nothing was written) or a failed run (recorded).
    """
    outcome, run_dir, lock = Outcome.REFUSED, job.output_dir.resolve(), None
    with ExitStack() as held:
        try:
            signals.raise_if_received()  # a stop noted while the command started
            resume_dir = resume_dir_of(cfg)
            if resume_dir is not None:
                run_dir = resume_dir.resolve()
                experiment = saved_config_with(run_dir, _resume_overrides(job.overrides))
            else:
                experiment = without_resume(cfg)
            settings = _checked(experiment, job, run_dir)
            lock = held.enter_context(RunLock(run_dir))
            decision = decide(run_dir, experiment, resume=resume_dir is not None)
            if decision.action is Action.REFUSE:
                raise MnistExpError(decision.reason)
            if decision.action is Action.SKIP:
                log.info("%s already %s; skipped.", run_dir, decision.status)
                outcome = Outcome.SKIPPED
                return {**decision.metrics, "skipped": True}
            outcome = Outcome.FAILED
            result = _train(run_dir, experiment, settings, job, decision, held)
            outcome = Outcome.RESUMED if decision.action is Action.CONTINUE else Outcome.RUN
            return result
        except BaseException as error:
            if outcome is Outcome.FAILED:
                outcome = _outcome_of(error)
            elif outcome is Outcome.REFUSED:
                remove_if_empty(run_dir, lock)
                if isinstance(error, KeyboardInterrupt):
                    log.error("Stopped (%s) before the run started; nothing was written.", error)
                    outcome = Outcome.INTERRUPTED
            if isinstance(error, MnistExpError):
                log.error("%s", error)
            raise
        finally:
            job.note_outcome(outcome, run_dir)


def _checked(experiment: DictConfig, job: Job, run_dir: Path) -> ExperimentSettings | ConfigError:
    """The experiment's settings; for a new single run its folder dataset checked too, before
    anything is written (a refused run leaves no record). A sweep's job with a wrong config
    gets the error back, to record it as its failure so that the sweep's summary counts it.

    Raises:
        MnistExpError: the config, builder or folder problem, in one message.
    """
    try:
        settings = parse_settings(experiment)
    except ConfigError as error:
        if job.sweep_dir is None:
            raise
        return error
    dataset = settings.dataset
    if dataset.name == "folder" and job.sweep_dir is None and not record.has_record(run_dir):
        from mnist_exp.data.folder import find_splits

        find_splits(Path(dataset.path), dataset.test_fraction, settings.seed)
    return settings


def _train(
    run_dir: Path,
    experiment: DictConfig,
    settings: ExperimentSettings | ConfigError,
    job: Job,
    decision: Decision,
    held: ExitStack,
):
    checked = not isinstance(settings, ConfigError)
    chief = not checked or is_chief_process(settings.strategy)
    if record.has_record(run_dir):
        choices = record.read_choices(run_dir)
    else:
        choices = job.choices
        if chief:  # other workers keep a log
            record.write_record(run_dir, experiment, job.hydra, job.overrides)
    held.enter_context(record.logging_into(run_dir, "train"))
    if not checked:
        record_failure(run_dir, decision, settings)
        raise settings
    if decision.action is Action.CONTINUE:
        log.info("Continuing %s", run_dir)
    with interrupt_on_signals():
        try:
            result = run_checked(
                experiment, settings, run_dir, decision, chief, choices, job.cpu_share
            )
        except KeyboardInterrupt:
            if job.says_how_to_continue:
                log.error(
                    "Interrupted; recorded as 'interrupted'. Continue with: %s %s",
                    shown("resume"),
                    run_dir,
                )
            raise
    if result["status"] == Status.DIVERGED:
        raise RunDiverged(_diverged_message(result, run_dir), result["epochs_run"])
    return result


def remove_if_empty(run_dir: Path, lock: RunLock | None = None) -> None:
    """Removes the folder Hydra made for a run that was refused (when nothing is in it), and
    the day's folder above it (`outputs/DATE/`) when that is empty too. The run's `lock`, if
    it was taken, is released first, its file gone with it when that is all the folder holds."""
    if lock is not None:
        lock.release(drop_if_alone=True)
    folders = [run_dir] + [run_dir.parent] * bool(HYDRA_DAY.fullmatch(run_dir.parent.name))
    for folder in folders:
        try:
            folder.rmdir()  # only ever an empty folder
        except OSError:
            return


def _outcome_of(error: BaseException) -> Outcome:
    if isinstance(error, KeyboardInterrupt):
        return Outcome.INTERRUPTED
    return Outcome.DIVERGED if isinstance(error, RunDiverged) else Outcome.FAILED


def _diverged_message(result: dict, run_dir: Path) -> str:
    return (
        f"Training diverged (non-finite loss) after epoch {result['epochs_run']}; "
        + (
            f"the test set was scored with the last finite checkpoint (epoch "
            f"{result['best_epoch']}). "
            if result.get("best_epoch")
            else "no finite checkpoint exists, so the test scores are not meaningful. "
        )
        + (
            f"The last finite training state is kept in {run_dir}/backup. "
            if (run_dir / artifacts.BACKUP_DIR).is_dir()
            else ""
        )
        + "Try a lower optimizer.learning_rate."
    )
