"""Crash-proof training state: a backup after every epoch, restored by a resumed run.

Each backup is a folder `backup/epoch-NNNN/` with the weights (model and optimizer) and a
`state.json` (epoch, callbacks' counters). It is written under a temporary name and renamed
into place, so a kill never leaves a half-written backup under a real name; the previous
backup is kept until the next one is complete, so a damaged latest one still has a fallback.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import keras

from mnist_exp.artifacts import BACKUP_DIR
from mnist_exp.callbacks import finite_logs

log = logging.getLogger(__name__)

WEIGHTS_FILE = "state.weights.h5"
STATE_FILE = "state.json"
KEPT_BACKUPS = 2

# The counters each stateful callback needs to carry on as if never interrupted.
CALLBACK_STATE = {
    "EarlyStopping": ("wait", "best", "stopped_epoch", "best_epoch"),
    "ReduceLROnPlateau": ("wait", "best", "cooldown_counter"),
    "BestModelSaver": ("best_value", "best_epoch"),
    "EpochLogger": ("train_seconds", "epoch_seconds"),
}


def _callback_key(callback) -> str | None:
    name = type(callback).__name__
    return name if name in CALLBACK_STATE else None


def _seed_generator_states(model: keras.Model) -> list:
    # Dropout's random state lives in seed-generator variables that save_weights skips; without
    # them a resumed run would draw different dropout masks than an uninterrupted one.
    return [v for v in model.non_trainable_variables if "seed_generator" in v.path]


def list_backups(run_dir: Path) -> list[Path]:
    """Complete backups in `run_dir`, newest first."""
    backup_dir = Path(run_dir) / BACKUP_DIR
    if not backup_dir.is_dir():
        return []
    return sorted(backup_dir.glob("epoch-[0-9]*"), reverse=True)


def restore_latest(model: keras.Model, run_dir: Path) -> dict | None:
    """Loads the newest usable backup into `model` (weights and optimizer state).

    A damaged backup (truncated file, bad JSON) is reported and the previous one tried.

    Returns:
        The backup's state (`epoch`, `callbacks`), or None when there is none usable.
    """
    for backup in list_backups(run_dir):
        try:
            state = json.loads((backup / STATE_FILE).read_text())
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(backup / WEIGHTS_FILE)
            for variable, value in zip(
                _seed_generator_states(model), state["seed_generators"], strict=True
            ):
                variable.assign(value)
        except Exception as error:
            log.warning(
                "Backup %s is damaged (%s: %s); trying the one before it.",
                backup,
                type(error).__name__,
                str(error).split("\n")[0],
            )
            continue
        log.info("Resuming from %s: continuing after epoch %d.", backup, state["epoch"])
        return state
    if list_backups(run_dir):
        log.warning("No usable backup in %s; training restarts from epoch 1.", run_dir)
    return None


class RunBackup(keras.callbacks.Callback):
    """Backs up the training state at each finite epoch's end, and puts restored callback
    counters back at train begin.

    Put it last in the callback list: its `on_train_begin` must run after the other
    callbacks reset their counters, so the restored counters stick.
    """

    def __init__(self, run_dir: Path, callbacks: list, restored_state: dict | None = None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.stateful = {key: cb for cb in callbacks if (key := _callback_key(cb))}
        self.restored_state = restored_state

    def on_train_begin(self, logs=None):
        if not self.restored_state:
            return
        for key, values in self.restored_state["callbacks"].items():
            for name, value in values.items():
                if key in self.stateful:
                    setattr(self.stateful[key], name, value)

    def on_epoch_end(self, epoch, logs=None):
        if not finite_logs(logs or {}):
            return  # a diverged epoch is never backed up: the last good state stays
        backup_dir = self.run_dir / BACKUP_DIR
        backup_dir.mkdir(parents=True, exist_ok=True)
        final = backup_dir / f"epoch-{epoch + 1:04d}"
        temporary = backup_dir / f".incomplete-epoch-{epoch + 1:04d}"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        self.model.save_weights(temporary / WEIGHTS_FILE)
        state = {
            "epoch": epoch + 1,
            "seed_generators": [
                keras.ops.convert_to_numpy(v).tolist() for v in _seed_generator_states(self.model)
            ],
            "callbacks": {
                key: {name: getattr(callback, name, None) for name in CALLBACK_STATE[key]}
                for key, callback in self.stateful.items()
            },
        }
        (temporary / STATE_FILE).write_text(json.dumps(state))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temporary, final)
        for old in list_backups(self.run_dir)[KEPT_BACKUPS:]:
            shutil.rmtree(old, ignore_errors=True)


def remove_backups(run_dir: Path) -> None:
    """Deletes the backups once the run has finished and model.keras holds the result."""
    shutil.rmtree(Path(run_dir) / BACKUP_DIR, ignore_errors=True)
