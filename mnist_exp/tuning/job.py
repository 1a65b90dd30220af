"""One search as a Hydra job: which directory it works in, held by this process alone, with
a record written once and never changed. `resume=DIR` continues the search in DIR with the
overrides it was started with; any other override is refused before anything is written."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack

from omegaconf import DictConfig

from mnist_exp import signals
from mnist_exp.commands import shown
from mnist_exp.errors import MnistExpError
from mnist_exp.runs import record
from mnist_exp.runs.lock import RunLock
from mnist_exp.training.job import Job, remove_if_empty, resume_dir_of, without_resume
from mnist_exp.training.stop import interrupt_on_signals
from mnist_exp.tuning.preset import Composer
from mnist_exp.tuning.search import run_search
from mnist_exp.tuning.settings import parse_tuning

log = logging.getLogger("mnist_exp.tune")

RESUME_OVERRIDE = "tuning.resume=true"


def _is_command_override(override: str) -> bool:
    """Overrides about this command, not the search: where it runs and whether it resumes."""
    key = override.lstrip("+~").partition("=")[0]
    return key in ("resume", "tuning.resume") or key.startswith("hydra.")


def saved_search_overrides(search_dir, extra: list[str]) -> list[str]:
    """The overrides the search in `search_dir` was started with.

    Raises:
        MnistExpError: for a directory without a search, or `extra` overrides that are not
            among the saved ones (a search continues exactly as it started).
    """
    if not record.has_record(search_dir):
        raise MnistExpError(f"{search_dir} is not a search directory (no {record.CONFIG_FILE}).")
    saved = [o for o in record.read_overrides(search_dir) if not _is_command_override(o)]
    changed = [o for o in extra if not _is_command_override(o) and o not in saved]
    if changed:
        raise MnistExpError(
            f"Refusing {changed} on a resume: a search continues with the overrides it was "
            f"started with ({saved or 'none'}); nothing was changed. Start a new search to "
            "change them."
        )
    return saved


def run_search_job(
    cfg: DictConfig,
    job: Job,
    compose: Composer,
    compose_search: Callable[[list[str]], DictConfig] | None = None,
) -> dict:
    """Runs, continues or refuses the search `cfg` describes (`search._check_state` decides);
    every MnistExpError is logged here once (into tune.log too, once the search has one).

    Args:
        cfg: the composed tuning config.
        job: what Hydra says of this job.
        compose: composes a trial's training config from overrides.
        compose_search: composes the whole tuning config (needed for `resume=DIR`).
    """
    if stop := signals.noted_interrupt():  # noted while the command started
        _report_the_end(stop, job.output_dir, started=False)
        remove_if_empty(job.output_dir)  # as a run stopped then leaves none, in a sweep too
        raise stop
    resume_dir = resume_dir_of(cfg)
    output_dir = (resume_dir or job.output_dir).resolve()
    lock, started = None, False
    with ExitStack() as held:
        try:
            overrides = list(job.overrides)
            if resume_dir is not None:
                overrides = [*saved_search_overrides(output_dir, overrides), RESUME_OVERRIDE]
                cfg = compose_search(overrides)
            cfg = without_resume(cfg)
            tuning = parse_tuning(cfg)
            lock = held.enter_context(RunLock(output_dir))

            def take_directory() -> None:
                nonlocal started
                started = True
                if tuning.role != "worker" and not record.has_record(output_dir):
                    record.write_record(output_dir, cfg, job.hydra, job.overrides)
                held.enter_context(record.logging_into(output_dir, "tune"))

            with interrupt_on_signals():
                try:
                    return run_search(
                        cfg, output_dir, overrides, compose=compose, on_start=take_directory
                    )
                except Exception as error:
                    if stop := signals.interrupt_behind(error):  # (Hydra's compose: seen once)
                        raise stop from error
                    raise
        except BaseException as error:
            _report_the_end(error, output_dir, started)
            if not started:  # refused or stopped while checked: the folder as it was found
                remove_if_empty(output_dir, lock)
            raise


def _report_the_end(error: BaseException, output_dir, started: bool) -> None:
    if isinstance(error, MnistExpError):
        log.error("%s", error)
    elif isinstance(error, KeyboardInterrupt) and not started:
        log.error("Stopped (%s) before the search started; nothing was written.", error)
    elif isinstance(error, KeyboardInterrupt):
        log.error(
            "Interrupted; the search is kept. Continue it with: %s resume=%s",
            shown("tune"),
            output_dir,
        )
