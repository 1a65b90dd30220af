"""`python -m benchmarks.folder_bench [--images 3000] [--side 64] [--epochs 3]`: the folder
dataset against plain Keras on one folder of colour PNGs (10 classes, written fresh):

- conversion: the first `read_folder` (decode, scale, cache) against the second (cache hit),
  and their ratio;
- training: seconds per epoch of one model (cnn_bn built for the images, batch 32, Adam) fed
  by mnist_exp's pipeline over the converted arrays, and by
  `keras.utils.image_dataset_from_directory` as its documentation shows it (decoding every
  epoch) and with `.cache()` (decoded once); the median of the epochs after the first, and
  the ratios to ours.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tabulate import tabulate

from mnist_exp.machine import cpu_model

BATCH = 32


def write_folder(root: Path, count: int, side: int) -> None:
    """`count` noisy colour images in 10 classes, each class its own mean colour."""
    rng = np.random.default_rng(0)
    means = rng.integers(40, 216, (10, 3))
    for index in range(count):
        label = index % 10
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        noise = rng.normal(0, 40, (side, side, 3))
        pixels = np.clip(means[label] + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{index}.png")


def conversion_seconds(root: Path, cache: Path) -> tuple[float, float, dict]:
    from mnist_exp.data.folder import read_folder

    started = time.perf_counter()
    read_folder(root, cache, 0.2, seed=0)
    first = time.perf_counter() - started
    started = time.perf_counter()
    arrays = read_folder(root, cache, 0.2, seed=0)
    return first, time.perf_counter() - started, arrays


class EpochTimes:
    """A Keras callback that keeps each epoch's seconds."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seconds = []

            def on_epoch_begin(self, epoch, logs=None):
                self._started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self._started)

        return Timer()


def epoch_seconds(dataset, shape, epochs: int, steps: int | None = None) -> float:
    import keras

    from mnist_exp.models.cnn_bn import build_model

    keras.utils.set_random_seed(0)
    model = build_model(
        shape, 10, filters=[32, 64, 128], convs_per_block=1, dropout_rate=0.0, l2_regularization=0
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimes()
    model.fit(dataset, epochs=epochs, steps_per_epoch=steps, callbacks=[timer], verbose=0)
    return statistics.median(timer.seconds[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="folder_bench-"))
    root = work / "images"
    write_folder(root, arguments.images, arguments.side)
    first, again, arrays = conversion_seconds(root, work / "cache")

    import keras

    from mnist_exp.data.pipeline import make_training_dataset

    x_train, y_train = arrays["x_train"], arrays["y_train"]
    shape = x_train.shape[1:]
    steps = -(-len(y_train) // BATCH)
    ours = make_training_dataset(
        x_train, y_train, batch_size=BATCH, seed=0, epochs=arguments.epochs
    )
    size = (arguments.side, arguments.side)
    plain = keras.utils.image_dataset_from_directory(
        root, image_size=size, batch_size=BATCH, seed=0, verbose=False
    )
    cached = plain.cache()
    timings = {  # (seconds per epoch, images per epoch)
        "mnist_exp (dataset=folder)": (
            epoch_seconds(ours, shape, arguments.epochs, steps),
            len(y_train),
        ),
        "image_dataset_from_directory": (
            epoch_seconds(plain, shape, arguments.epochs),
            arguments.images,
        ),
        "image_dataset_from_directory + cache()": (
            epoch_seconds(cached, shape, arguments.epochs),
            arguments.images,
        ),
    }
    rates = {name: images / seconds for name, (seconds, images) in timings.items()}
    ours_rate = rates["mnist_exp (dataset=folder)"]
    print(f"machine: {cpu_model()}; {arguments.images} PNGs {size[0]}x{size[1]} RGB, 10 classes")
    print(
        f"conversion: first {first:.2f} s, from the cache {again:.3f} s "
        f"({first / again:.1f}x faster)"
    )
    rows = [
        [name, images, f"{seconds:.2f}", f"{rates[name]:,.0f}", f"{ours_rate / rates[name]:.2f}"]
        for name, (seconds, images) in timings.items()
    ]
    headers = ["input pipeline", "images/epoch", "s/epoch", "images/s", "mnist_exp's ratio"]
    print(tabulate(rows, headers=headers))
    print(
        "(ratio: mnist_exp's images/s over the row's; mnist_exp trains on the 80% it does not "
        "hold out for testing; medians of the epochs after the first)"
    )


if __name__ == "__main__":
    main()
