"""What `mnist-exp-board` shows TensorBoard: a view of a folder of runs in which the HParams
dashboard's columns are the config keys that differ between those runs.

TensorBoard takes one HParams declaration from whichever run holds one, so the view is a
folder of its own: the runs' event files as symbolic links (nothing is written into a run),
with one declaration computed from every run below the folder, added beside the first run's
own records. Sweeps' `sweep-hparams/` declarations are left out, so the run list holds runs
only. The view is refreshed while the board runs, so new runs appear as with a plain logdir.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from mnist_exp.reporting.tensorboard_names import SUBRUNS, SWEEP_HPARAMS_DIR, shown_name

EVENTS_PREFIX = "events.out.tfevents."
DECLARATION_SUFFIX = ".mnist-exp-board"


@dataclass(frozen=True)
class View:
    folder: Path
    runs: int
    columns: tuple[str, ...]
    declared_in: Path | None = None  # the view folder that holds the declaration
    metrics: tuple[str, ...] = ()  # the users' test_NAME metrics, after ours


def _event_files(logdir: Path) -> list[Path]:
    return sorted(
        path
        for path in logdir.rglob(f"{EVENTS_PREFIX}*")
        if SWEEP_HPARAMS_DIR not in path.relative_to(logdir).parts
        and not path.name.endswith(DECLARATION_SUFFIX)
    )


def hparams_columns(logdir: Path) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
    """(number of runs, the config keys that tell the runs below `logdir` apart, the users'
    `test_NAME` metrics they recorded); for a single run, its group choices and seed. A key
    that only some runs have, with one value wherever it is set (`model.filters` beside
    `model.hidden_units`), is left out: the group choice that brings it (`model`) already
    tells those runs apart."""
    from mnist_exp.runs.compare import defining_columns
    from mnist_exp.runs.table import find_run_dirs, read_runs, users_metrics

    table = read_runs(find_run_dirs([logdir]))
    if table.empty:
        return 0, (), ()
    metrics = users_metrics(table.columns)
    columns = defining_columns(table)
    if len(table) > 1:
        columns = [
            column
            for column in columns
            if "." not in column or table[column].dropna().map(str).nunique() > 1
        ]
    return len(table), tuple(columns), tuple(metrics)


def _write_declaration(folder: Path, columns: tuple[str, ...], metrics: tuple[str, ...]) -> None:
    for earlier in folder.glob(f"*{DECLARATION_SUFFIX}"):
        earlier.unlink()
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.plugins.hparams import api as hparams_api
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    from mnist_exp.reporting.tensorboard import hparams_metrics

    summary = hparams_api.hparams_config_pb(
        hparams=[hparams_api.HParam(name) for name in columns], metrics=hparams_metrics(metrics)
    )
    writer = EventFileWriter(str(folder), filename_suffix=DECLARATION_SUFFIX)
    writer.add_event(Event(wall_time=time.time(), summary=summary))
    writer.close()


def refresh(logdir: Path, folder: Path, previous: View | None = None) -> View:
    """Links every event file below `logdir` into `folder` (once each), and writes the
    HParams declaration when its columns differ from the `previous` view's, always beside
    the same run."""
    logdir = Path(logdir).resolve()
    sessions = []
    for path in _event_files(logdir):
        relative = shown_name(logdir, path.parent)
        target = folder / relative
        target.mkdir(parents=True, exist_ok=True)
        link = target / path.name
        if not link.is_symlink():
            os.symlink(path, link)
        if relative.name not in SUBRUNS:
            sessions.append(target)
    runs, columns, metrics = hparams_columns(logdir)
    declared_in = previous.declared_in if previous and previous.declared_in else None
    declared_in = declared_in or (sessions[0] if sessions else None)
    changed = previous is None or (columns, metrics) != (previous.columns, previous.metrics)
    if declared_in is not None and changed:
        _write_declaration(declared_in, columns, metrics)
    return View(folder, runs, columns, declared_in, metrics)
