"""Why training/backup.py is not Keras' BackupAndRestore: Keras backs up the weights and the
epoch but not the other callbacks' counters, so an interrupted run with early stopping
resumes with its patience spent afresh and ends at another epoch than the same run
uninterrupted. RunBackup carries the counters, and the resumed run ends where the
uninterrupted one does (the byte-for-byte resume of a whole run: test_resume.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist_exp.training.backup import restore_latest, with_backup

EPOCHS, STOP_AT = 10, 2


class Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == STOP_AT:
            raise KeyboardInterrupt


def tiny_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def impatient() -> keras.callbacks.EarlyStopping:
    """Never sees an improvement (a falling loss in mode max): stops after 1 + 3 epochs."""
    return keras.callbacks.EarlyStopping(monitor="loss", mode="max", patience=3)


def epochs_run(model, callbacks, initial_epoch: int = 0) -> int:
    """The number (from 1) of the last epoch trained."""
    data = np.random.default_rng(0).normal(size=(32, 4)), np.zeros((32, 1))
    history = model.fit(*data, epochs=EPOCHS, initial_epoch=initial_epoch, verbose=0,
                        callbacks=callbacks)  # fmt: skip
    return history.epoch[-1] + 1


def interrupted_then_resumed(callbacks_for, resume) -> int:
    model = tiny_model()
    with pytest.raises(KeyboardInterrupt):
        epochs_run(model, [*callbacks_for(None), Interrupt()])
    model, initial_epoch, restored = resume()
    return epochs_run(model, callbacks_for(restored), initial_epoch)


@pytest.mark.slow
def test_keras_backup_loses_the_early_stopping_counter_and_run_backup_keeps_it(tmp_path):
    uninterrupted = epochs_run(tiny_model(), [impatient()])
    assert uninterrupted == 4

    keras_dir = tmp_path / "keras"

    def keras_callbacks(_):
        return [impatient(), keras.callbacks.BackupAndRestore(str(keras_dir))]

    # Keras restores the epoch inside fit itself (initial_epoch stays 0).
    keras_resumed = interrupted_then_resumed(keras_callbacks, lambda: (tiny_model(), 0, None))
    assert keras_resumed == STOP_AT + 4  # its patience spent afresh after the interruption

    ours_dir = tmp_path / "ours"

    def our_callbacks(restored):
        return with_backup([impatient()], ours_dir, restored)

    def our_resume():
        model = tiny_model()
        restored = restore_latest(model, ours_dir)
        return model, restored["epoch"], restored

    assert interrupted_then_resumed(our_callbacks, our_resume) == uninterrupted
