"""The runner: composed config in, metrics out, every artifact in the run's directory."""

from __future__ import annotations

import logging
import shutil
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from omegaconf import DictConfig

from mnist_exp import safe_files, signals
from mnist_exp.commands import shown
from mnist_exp.errors import ConfigError, MnistExpError
from mnist_exp.reporting.tensorboard_names import new_label
from mnist_exp.runs import artifacts, provenance
from mnist_exp.runs.flatten import flatten_config, with_group_choices
from mnist_exp.runs.migrate import FORMAT_KEY, RUN_FORMAT, migrate
from mnist_exp.runs.status import Action, Decision, Status, decide
from mnist_exp.scratch import make_scratch_folder
from mnist_exp.settings import ExperimentSettings, dataset_path_as_written, parse_settings
from mnist_exp.text import shown_path
from mnist_exp.training.cluster import is_chief_process
from mnist_exp.training.threads import configure_threads

log = logging.getLogger(__name__)

BUILT_IN_MODELS = "mnist_exp.models."  # their option's name says where they came from


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _summary(metrics: dict, output_dir: Path) -> str:
    return (
        f"{metrics['status']}: test_accuracy={metrics['test_accuracy']:.4f} "
        f"test_loss={metrics['test_loss']:.4f} "
        f"best_val_accuracy={metrics['best_val_accuracy']:.4f} "
        f"epochs={metrics['epochs_run']} train={metrics['train_seconds']:.1f}s "
        f"({metrics['images_per_second']:.0f} img/s) -> {shown_path(output_dir)}"
    )


def _start_record(decision: Decision) -> dict:
    """metrics.json as this attempt starts: a new run's, or the continued run's own."""
    if decision.action is Action.CONTINUE:
        # What the interrupted attempt left (its error, its end) is not this attempt's.
        kept = {k: v for k, v in decision.metrics.items() if k not in ("error", "finished_at")}
        return {**kept, "status": Status.RUNNING, "resumed_at": _now()}
    return {"status": Status.RUNNING, "started_at": _now(), FORMAT_KEY: RUN_FORMAT}


def _as_interrupt(error: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt that `error` is or stands for; None for a failure. Outside fit
    the stop handler raises at once, and its KeyboardInterrupt can land in TensorFlow's C code
    and surface as another error ("SystemError: ... bad argument to internal function"): with
    a stop signal noted, any error but the framework's own messages is that interrupt."""
    return None if isinstance(error, MnistExpError) else signals.interrupt_behind(error)


def _record_the_end(error: BaseException, record: dict, run_dir: Path, started: float):
    """Records a run ended by `error` as failed or interrupted (logging an unexpected error's
    traceback); returns the KeyboardInterrupt to raise instead when `error` disguises one."""
    interrupt = _as_interrupt(error)
    disguised = interrupt is not None and interrupt is not error
    described = f"{type(error).__name__}: {error}"
    if disguised:
        described = f"KeyboardInterrupt: {interrupt} (surfaced as {described})"
    record.update(
        status=Status.FAILED if interrupt is None else Status.INTERRUPTED,
        resumable=(run_dir / artifacts.BACKUP_DIR).is_dir(),
        error=described,
        finished_at=_now(),
        wall_seconds=round(time.perf_counter() - started, 3),
    )
    safe_files.write_json_atomically(run_dir / artifacts.METRICS_FILE, record)
    if interrupt is None and not isinstance(error, MnistExpError):
        log.error("Run failed:\n%s", traceback.format_exc())
    return interrupt if disguised else None


def record_failure(output_dir: Path, decision: Decision, error: BaseException) -> None:
    """Records, in metrics.json, a run that failed before it could start (a sweep's job with a
    wrong config), so that the sweep's summary and a later run of the sweep see it."""
    record = _start_record(decision)
    _record_the_end(error, record, output_dir, time.perf_counter())


def run_experiment(cfg: DictConfig, output_dir: Path, resume: bool = False) -> dict:
    """A run for a caller of the library, such as a notebook or a test: `output_dir` decided
    on, `cfg` checked, then `run_checked`; no folder lock, no record of the config, no log file
    (the commands, sweeps and searches go through `training.job.run_job`, which does those).
    A config error is recorded in metrics.json as the run's failure, and re-raised; a
    diverged run returns its metrics.

    Args:
        cfg: the composed config.
        output_dir: the run's own directory.
        resume: continue an interrupted run in `output_dir` from its last backup.
    """
    output_dir = Path(output_dir)
    decision = decide(output_dir, resume=resume)
    if decision.action is Action.REFUSE:
        raise MnistExpError(decision.reason)
    if resume and decision.action is not Action.CONTINUE:
        raise MnistExpError(f"{output_dir} holds no run to resume (no metrics.json).")
    if not resume and decision.action is not Action.START:
        raise MnistExpError(
            f"{output_dir} already holds a run (status {decision.status}); refusing to "
            f"overwrite it. Choose another folder, or resume it: {shown('resume')} {output_dir}"
        )
    try:
        settings = parse_settings(cfg)
    except ConfigError as error:
        record_failure(output_dir, decision, error)
        raise
    return run_checked(cfg, settings, output_dir, decision, is_chief_process(settings.strategy))


def run_checked(
    cfg: DictConfig,
    settings: ExperimentSettings,
    output_dir: Path,
    decision: Decision,
    chief: bool,
    choices: dict | None = None,
    cpu_share: int | None = None,
) -> dict:
    """Trains and evaluates the checked experiment (`settings`, made from `cfg`) as `decision`
    (start or continue, decided by the caller) says, writing metrics.json into `output_dir`;
    a `chief` false (a multi-worker run's other workers) writes into a scratch folder.

    A failure is recorded in metrics.json (status "failed", with the error) and re-raised; a
    stop signal as "interrupted", raising KeyboardInterrupt.

    Returns:
        The metrics, including "objective" (the value of `objective.metric` at the best
        epoch, which sweepers optimize).
    """
    output_dir = Path(output_dir)
    resume = decision.action is Action.CONTINUE
    record = _start_record(decision)
    started = time.perf_counter()
    run_dir = output_dir  # where artifacts go: a scratch folder on non-chief workers
    attempt = None  # this attempt's entry in provenance.json, once written
    tracker = None  # the MLflow sender, with logger=mlflow
    try:
        if not chief:
            if resume:
                raise MnistExpError("Resuming a multi-worker run is not supported; start it again.")
            run_dir = make_scratch_folder("mnist_exp_worker_")
        if resume:  # a run recorded by an earlier version continues in the current layout
            label = new_label(output_dir, settings.model.name, settings.seed)
            record = migrate(output_dir, record, label)
        record.update(model=settings.model.name, dataset=settings.dataset.name, seed=settings.seed)
        if not settings.model.builder.startswith(BUILT_IN_MODELS):
            record["model_builder"] = settings.model.builder  # where the model came from
        record["threads"] = configure_threads(settings.strategy.threads or cpu_share)
        safe_files.write_json_atomically(run_dir / artifacts.METRICS_FILE, record)
        # Imported here so that config errors surface before TensorFlow starts.
        from mnist_exp.tracking.mlflow_run import start_tracking
        from mnist_exp.training.engine import train_and_evaluate

        hparams = with_group_choices(flatten_config(cfg), choices)
        data_label = dataset_path_as_written(cfg)
        attempt = provenance.record_attempt(run_dir)
        if run_dir == output_dir:  # the chief's: workers train in scratch folders
            tracker = start_tracking(settings.logger, run_dir, hparams)
        record.update(
            train_and_evaluate(settings, run_dir, hparams, resume, data_label, tracker=tracker)
        )
    except BaseException as error:
        disguised = _record_the_end(error, record, run_dir, started)
        if tracker is not None:
            tracker.finish()
        if disguised is not None:
            raise disguised from error
        raise
    finally:
        if attempt is not None:
            provenance.record_end(run_dir, attempt, record["status"])
        if run_dir != output_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
    record.update(finished_at=_now(), wall_seconds=round(time.perf_counter() - started, 3))
    if run_dir == output_dir:
        safe_files.write_json_atomically(output_dir / artifacts.METRICS_FILE, record)
        log.info("%s", _summary(record, output_dir))
        if tracker is not None:
            tracker.finish()
    else:
        log.info("Worker finished; the chief wrote the run's artifacts.")
    return record
