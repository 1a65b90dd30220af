"""A live progress bar inside each epoch (steps, images/s, ETA, running loss and accuracy),
drawn on a terminal only: log files and pipes keep their one line per epoch, with no control
characters. The bar clears itself before each epoch's log line, so lines never glue."""

from __future__ import annotations

import sys
import time

import keras

from mnist_exp.progress import TerminalLine

WIDTH = 24
EVERY_SECONDS = 0.2  # at most five redraws a second, whatever the step rate


def wanted(progress: str, verbose: int, stream=None) -> bool:
    """Whether to draw the bar: `progress` on/off, or auto (a terminal), and Keras' verbose=1
    (its own bar) taken to mean this one."""
    stream = stream or sys.stderr
    if progress == "off":
        return False
    return progress == "on" or verbose == 1 or stream.isatty()


class ProgressBar(keras.callbacks.Callback):
    """Draws `epoch 3/8 ███████░░░ 212/430 · 3,050 img/s · ETA 9 s · loss 0.0412 ...`.

    Keras may run batch hooks of an `async_safe` callback on a worker thread, so the training
    loop never waits for the bar (nor for the values it reads from the logs).
    """

    async_safe = True

    def __init__(self, epochs: int, steps: int, images_per_step: int, stream=None):
        super().__init__()
        self.epochs = epochs
        self.steps = max(1, steps)
        self.images_per_step = images_per_step
        self.stream = stream or sys.stderr
        self._epoch = 0
        self._started = 0.0
        self._drawn = 0.0
        self._line = TerminalLine(self.stream)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._started = time.perf_counter()
        self._drawn = 0.0

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if now - self._drawn < EVERY_SECONDS:
            return
        self._drawn = now
        done = min(batch + 1, self.steps)
        elapsed = max(now - self._started, 1e-9)
        filled = WIDTH * done // self.steps
        parts = [
            f"epoch {self._epoch + 1}/{self.epochs} {'█' * filled}{'░' * (WIDTH - filled)} "
            f"{done}/{self.steps}",
            f"{done * self.images_per_step / elapsed:,.0f} img/s",
            f"ETA {(self.steps - done) * elapsed / done:.0f} s",
        ]
        parts += [f"{key} {value:.4f}" for key, value in (logs or {}).items()
                  if key in ("loss", "accuracy") and isinstance(value, float)]  # fmt: skip
        self._line.draw(" · ".join(parts))

    def on_test_begin(self, logs=None):
        if self._line.width:
            self._line.draw(f"epoch {self._epoch + 1}/{self.epochs} validating ...")

    def on_epoch_end(self, epoch, logs=None):
        self._line.clear()

    def on_train_end(self, logs=None):
        self._line.clear()
