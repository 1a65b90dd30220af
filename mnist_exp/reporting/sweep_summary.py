"""How a multirun went, counted at its end: jobs skipped (finished before), resumed, run,
failed or refused. Each job notes its outcome in SWEEP/.outcomes/NUM.json; a Hydra callback
counts the notes written since the multirun started (jobs may run in other processes or on
other machines, under any launcher, so the count is made from files, not from memory)."""

from __future__ import annotations

import atexit
import json
import logging
import time
from collections import Counter
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mnist_exp.runs.artifacts import write_text_atomically

log = logging.getLogger(__name__)

OUTCOMES_DIR = ".outcomes"
ORDER = ("skipped", "resumed", "run", "failed", "interrupted", "diverged", "refused")


def record_outcome(sweep_dir: Path, job_number: int, outcome: str, run_dir: Path) -> None:
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
    parts = [f"{counts[name]} {name}" for name in ORDER if counts[name]]
    parts += [f"{n} {name}" for name, n in counts.items() if name not in ORDER]
    return f"{total} job{'s' if total != 1 else ''}: " + ", ".join(parts)


class SweepSummary(Callback):
    """Logs the count when the multirun ends, or at exit when a job's failure ends it early
    (Hydra then skips on_multirun_end)."""

    def __init__(self) -> None:
        self.sweep_dir: Path | None = None
        self.started = 0.0

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.started = time.time() - 1  # file times may be rounded down
        atexit.register(self.report)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        self.report()

    def report(self) -> None:
        if self.sweep_dir is None:
            return
        sweep_dir, self.sweep_dir = self.sweep_dir, None  # once
        counts = count_outcomes(sweep_dir, self.started)
        if not counts:
            return  # jobs that note no outcome (searches)
        message = f"Sweep {sweep_dir}: {describe(counts)}"
        log.info("%s", message) if log.isEnabledFor(logging.INFO) else print(message)
