"""How a multirun went, counted at its end: jobs skipped (finished before), resumed, run,
failed or refused. Each job notes its outcome in SWEEP/.outcomes/NUM.json; a Hydra callback
counts the notes written since the multirun started (jobs may run in other processes or on
other machines, under any launcher, so the count is made from files, not from memory)."""

from __future__ import annotations

import atexit
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mnist_exp.errors import MnistExpError
from mnist_exp.exits import REFUSED
from mnist_exp.runs.lock import RunLock
from mnist_exp.runs.status import Outcome
from mnist_exp.safe_files import write_text_atomically
from mnist_exp.tracking import end_tracked_parent

log = logging.getLogger(__name__)

OUTCOMES_DIR = ".outcomes"
SWEEP_LOCK = ".sweep.lock"


class SweepFailed(Exception):
    """Some jobs of the multirun did not succeed (their records say why)."""


def record_outcome(sweep_dir: Path, job_number: int, outcome: Outcome, run_dir: Path) -> None:
    note = {"outcome": outcome, "run_dir": str(run_dir), "at": time.time()}
    write_text_atomically(Path(sweep_dir) / OUTCOMES_DIR / f"{job_number}.json", json.dumps(note))


def count_outcomes(sweep_dir: Path, since: float) -> Counter:
    counts: Counter = Counter()
    for path in sorted((Path(sweep_dir) / OUTCOMES_DIR).glob("*.json")):
        try:
            note = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if note.get("at", 0) >= since:
            counts[note.get("outcome", "unknown")] += 1
    return counts


def describe(counts: Counter) -> str:
    total = sum(counts.values())
    parts = [f"{counts[name]} {name}" for name in Outcome if counts[name]]
    parts += [f"{n} {name}" for name, n in counts.items() if name not in tuple(Outcome)]
    return f"{total} job{'s' if total != 1 else ''}: " + ", ".join(parts)


def run_table_text(sweep_dir: Path) -> str:
    """The sweep's runs as `mnist-exp-compare` shows them (the keys that vary, the metrics)."""
    from mnist_exp.runs.compare import render, run_table
    from mnist_exp.runs.table import runs_table

    table = runs_table([sweep_dir])
    return "" if table.empty else render(run_table(table, None), "table")


class SweepSummary(Callback):
    """At the end of a multirun: the run table and the count of its jobs; a non-zero exit
    when a job did not succeed, whatever the launcher reports (submitit reports failed jobs
    as completed, facebookresearch/hydra#1928). When a failure ends the multirun early
    (Hydra then skips on_multirun_end), the same is printed at exit.

    The process that launches the multirun holds its folder (SWEEP/.sweep.lock) until it
    ends: a second sweep started on the same folder is refused, so their jobs' notes and
    runs never mix."""

    def __init__(self) -> None:
        self.sweep_dir: Path | None = None
        self.started = 0.0
        self.lock: RunLock | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            self.lock = RunLock(sweep_dir, SWEEP_LOCK)
        except MnistExpError as error:
            log.error("The sweep folder %s", error)
            sys.exit(REFUSED)
        self.sweep_dir = sweep_dir
        self.started = time.time() - 1  # file times may be rounded down
        atexit.register(self.report)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        counts = self.report()
        end_tracked_parent(Path(config.hydra.sweep.dir))
        if self.lock is not None:
            self.lock.release()
        failed = sum(counts[name] for name in Outcome if name.is_failure)
        if failed:
            raise SweepFailed(f"{failed} of {sum(counts.values())} jobs did not succeed.")

    def report(self) -> Counter:
        if self.sweep_dir is None:
            return Counter()
        sweep_dir, self.sweep_dir = self.sweep_dir, None  # once
        counts = count_outcomes(sweep_dir, self.started)
        if not counts:
            return counts  # jobs that note no outcome (searches)
        table = run_table_text(sweep_dir)
        message = (f"Runs of {sweep_dir}:\n{table}\n" if table else "") + (
            f"Sweep {sweep_dir}: {describe(counts)}"
        )
        log.info("%s", message) if log.isEnabledFor(logging.INFO) else print(message)
        return counts
