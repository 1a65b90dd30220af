"""One Hydra job: which directory it works in, with which config, and whether it starts,
continues or skips a run there.

- A fresh directory: the job takes it, records its config, and trains.
- A directory that already holds this very config (a sweep or command run again): a
  finished run is skipped and its metrics returned; an unfinished one continues from its
  last backup.
- A directory that holds another config: refused, nothing touched.
- `resume=DIR`: continues the run in DIR with DIR's saved config; only overrides that do not
  change the experiment are accepted.

The directory is held with an OS lock for the whole job, so two processes never write into
one run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from mnist_exp.commands import shown
from mnist_exp.errors import ConfigError, MnistExpError
from mnist_exp.runs import artifacts, record
from mnist_exp.runs.load import FINISHED
from mnist_exp.runs.lock import RunLock
from mnist_exp.settings import StrategySettings, parse_section, parse_settings
from mnist_exp.training.cluster import is_chief_process
from mnist_exp.training.runner import run_experiment
from mnist_exp.training.stop import interrupt_on_signals
from mnist_exp.training.threads import cpu_share

log = logging.getLogger("mnist_exp")

RESUME_KEY = "resume"
# Overrides that change how a run reports, not what it computes.
ALLOWED_RESUME_OVERRIDES = ("trainer.verbose",)


class RunDiverged(MnistExpError):
    """The run ended with a non-finite loss (recorded as status 'diverged')."""


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
    """Starts, continues, skips or refuses the run `cfg` describes (see the module's doc).
    Every MnistExpError is logged here once (into the run's train.log too, once it has one).

    Returns:
        The run's metrics (those of the earlier run when it had already finished).

    Raises:
        MnistExpError: for a refusal (nothing was written) or a failed run (recorded).
    """
    handler = None
    outcome, run_dir = "refused", job.output_dir
    try:
        resume_dir = resume_dir_of(cfg)
        if resume_dir is not None:
            run_dir = resume_dir.resolve()
            experiment = saved_config_with(run_dir, _resume_overrides(job.overrides))
        else:
            run_dir = job.output_dir.resolve()
            experiment = without_resume(cfg)
            if job.sweep_dir is None and not record.has_record(run_dir):
                check_before_starting(experiment)
        with RunLock(run_dir):
            continuing = record.has_record(run_dir)
            if continuing and resume_dir is None:
                _check_same_experiment(run_dir, experiment)
            metrics = artifacts.read_metrics(run_dir) or {}
            if continuing and metrics.get("status") in FINISHED:
                if resume_dir is not None:
                    raise MnistExpError(
                        f"{run_dir} already finished (status {metrics['status']}); nothing to "
                        "resume, nothing was changed. Start a new run instead."
                    )
                log.info("%s already %s; skipped.", run_dir, metrics["status"])
                outcome = "skipped"
                return {**metrics, "skipped": True}
            if not continuing and _is_chief(experiment):  # other workers keep only a log
                record.write_record(run_dir, experiment, job.hydra, job.overrides)
            choices = record.read_choices(run_dir) if continuing else job.choices
            handler = record.log_to_file(run_dir, "train")
            if continuing:
                log.info("Continuing %s", run_dir)
            # A recorded run without metrics was refused before training began: it starts anew.
            resume = continuing and bool(metrics)
            outcome = "failed"
            with interrupt_on_signals():
                try:
                    result = run_experiment(
                        experiment, run_dir, choices=choices, resume=resume, cpu_share=job.cpu_share
                    )
                except KeyboardInterrupt:
                    outcome = "interrupted"
                    log.error(
                        "Interrupted; recorded as 'interrupted'. Continue with: %s %s",
                        shown("resume"),
                        run_dir,
                    )
                    raise
            outcome = "resumed" if resume else "run"
            if result["status"] == "diverged":
                outcome = "diverged"
                raise RunDiverged(
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
            return result
    except MnistExpError as error:
        log.error("%s", error)
        raise
    finally:
        job.note_outcome(outcome, run_dir)
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()


def check_before_starting(experiment: DictConfig) -> None:
    """A new single run's config, the user's builder module and folder dataset checked before
    anything is written: a refused run leaves no record. (A sweep's jobs are recorded as
    failed instead, so that the sweep's summary counts them.)

    Raises:
        MnistExpError: the config, builder or folder problem, in one message.
    """
    settings = parse_settings(experiment)
    if settings.dataset.name == "folder":
        from mnist_exp.data.folder import find_splits

        find_splits(Path(settings.dataset.path), settings.dataset.test_fraction, settings.seed)


def _is_chief(experiment: DictConfig) -> bool:
    try:
        return is_chief_process(parse_section(experiment, "strategy", StrategySettings))
    except ConfigError:
        return True  # the runner records the bad config as this run's failure


def _check_same_experiment(run_dir: Path, experiment: DictConfig) -> None:
    differences = record.config_differences(record.read_config(run_dir), experiment)
    if differences:
        shown_differences = "; ".join(differences[:5]) + (" ..." if len(differences) > 5 else "")
        raise MnistExpError(
            f"{run_dir} already holds a different run ({shown_differences}); nothing was "
            f"changed. Choose another directory for this one, or continue that run with "
            f"{shown('resume')} {run_dir}."
        )
