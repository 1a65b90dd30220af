"""Crash-proof training state: a backup after every epoch, restored by a resumed run.

Each backup is a folder `backup/epoch-NNNN/` with the weights (model and optimizer) and a
`state.json` (epoch, callbacks' counters). It is written under a temporary name and renamed
into place, so a kill never leaves a half-written backup under a real name; the previous
backup is kept until the next one is complete, so a damaged latest one still has a fallback.

Why not Keras' `BackupAndRestore(double_checkpoint=True)`: it saves the weights and the
epoch only, so every other callback starts afresh on resume (early stopping's patience,
ReduceLROnPlateau's counters, the best checkpoint's value: the resumed run ends at another
epoch than the uninterrupted one, tests/test_backup_vs_keras.py); it overwrites its files
in place (a kill between the weights and the metadata pairs them wrongly); it backs up a
diverged (non-finite) epoch like any other; and it deletes its backup when fit ends, where a
diverged run keeps its last finite one. A resumed run here matches the uninterrupted run
byte for byte (tests/test_resume.py).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import keras

from mnist_exp.runs.artifacts import BACKUP_DIR
from mnist_exp.runs.disk import out_of_space_named, training_state_bytes
from mnist_exp.safe_files import write_text_atomically
from mnist_exp.training.callbacks import BestModelSaver, EpochLogger, finite_logs

log = logging.getLogger(__name__)

WEIGHTS_FILE = "state.weights.h5"
STATE_FILE = "state.json"
KEPT_BACKUPS = 2

# The counters each stateful callback needs to carry on as if never interrupted, by class
# (subclasses included), saved under the class's name.
CALLBACK_STATE = {
    keras.callbacks.EarlyStopping: ("wait", "best", "stopped_epoch", "best_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
    BestModelSaver: ("best_value", "best_epoch"),
    EpochLogger: ("train_seconds", "epoch_seconds"),
}


def _stateful(callbacks: list) -> dict[str, tuple[keras.callbacks.Callback, tuple[str, ...]]]:
    found = {}
    for callback in callbacks:
        for kind, names in CALLBACK_STATE.items():
            if isinstance(callback, kind):
                found[kind.__name__] = (callback, names)
    return found


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
        The backup's state (`epoch`, `stop_training`, `callbacks`), or None when there is
        none usable.
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


def with_backup(callbacks: list, run_dir: Path, restored_state: dict | None) -> list:
    """`callbacks` followed by the RunBackup that saves and restores their counters.

    The backup comes last on purpose: Keras calls callbacks in list order, and an epoch's
    backup must hold the counters every other callback updated at that epoch's end.
    """
    return [*callbacks, RunBackup(run_dir, callbacks, restored_state)]


class RunBackup(keras.callbacks.Callback):
    """Backs up the training state at each finite epoch's end; puts restored callback counters
    back as training begins, after every other callback's own reset (it comes last), and
    before the first epoch: a run stopped after its last epoch, while it was scored, resumes
    with no epoch left and still scores the best epoch's weights. Build it with `with_backup`."""

    def __init__(self, run_dir: Path, callbacks: list, restored_state: dict | None = None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.stateful = _stateful(callbacks)
        self.restored_state = restored_state

    def on_train_begin(self, logs=None):
        if not self.restored_state:
            return
        for key, values in self.restored_state["callbacks"].items():
            if key in self.stateful:
                callback, _ = self.stateful[key]
                for name, value in values.items():
                    setattr(callback, name, value)

    def on_epoch_end(self, epoch, logs=None):
        if not finite_logs(logs or {}):
            return  # a diverged epoch is never backed up: the last good state stays
        backup_dir = self.run_dir / BACKUP_DIR
        backup_dir.mkdir(parents=True, exist_ok=True)
        final = backup_dir / f"epoch-{epoch + 1:04d}"
        temporary = backup_dir / f".incomplete-epoch-{epoch + 1:04d}"
        shutil.rmtree(temporary, ignore_errors=True)
        try:
            with out_of_space_named(
                backup_dir, training_state_bytes(self.model), f"the epoch {epoch + 1} backup"
            ):
                temporary.mkdir()
                self._write(temporary, epoch)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)  # the previous backup stays
            raise
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temporary, final)
        for old in list_backups(self.run_dir)[KEPT_BACKUPS:]:
            shutil.rmtree(old, ignore_errors=True)

    def _write(self, folder: Path, epoch: int) -> None:
        self.model.save_weights(folder / WEIGHTS_FILE)
        state = {
            "epoch": epoch + 1,
            "stop_training": bool(self.model.stop_training),  # early stopping ended it here
            "seed_generators": [
                keras.ops.convert_to_numpy(v).tolist() for v in _seed_generator_states(self.model)
            ],
            "callbacks": {
                key: {name: getattr(callback, name, None) for name in names}
                for key, (callback, names) in self.stateful.items()
            },
        }
        write_text_atomically(folder / STATE_FILE, json.dumps(state))


def remove_backups(run_dir: Path) -> None:
    """Deletes the backups once the run has finished and model.keras holds the result."""
    shutil.rmtree(Path(run_dir) / BACKUP_DIR, ignore_errors=True)
