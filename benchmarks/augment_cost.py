"""`python -m benchmarks.augment_cost [--batch-size 128] [--rounds 7]`: what each `augment`
option costs the input pipeline, in milliseconds per training batch (median of the rounds,
the options interleaved within each round), and as a ratio to `light`'s affine warp.

The batches are augmented on tf.data's threads while the model trains, so an option costs the
run time only where it takes the CPU from training: compare with an epoch's steps.
"""

from __future__ import annotations

import argparse
import statistics
import time

from omegaconf import OmegaConf
from tabulate import tabulate

from mnist_exp.settings import CONFIG_DIR
from mnist_exp.settings.data import AugmentSettings

BASELINE = "light"


def option_settings() -> dict[str, AugmentSettings]:
    """Every option of the `augment` group that augments, by name."""
    found = {}
    for path in sorted((CONFIG_DIR / "augment").glob("*.yaml")):
        settings = AugmentSettings(**OmegaConf.to_container(OmegaConf.load(path)))
        if settings.enabled:
            found[settings.name] = settings
    return found


def milliseconds_per_batch(batch_size: int, rounds: int, calls: int) -> dict[str, float]:
    import tensorflow as tf

    from mnist_exp.data.augmentation import make_augmenter

    images = tf.random.stateless_uniform([batch_size, 28, 28, 1], [0, 1], 0.0, 255.0)
    augmenters = {
        name: tf.function(make_augmenter(settings)) for name, settings in option_settings().items()
    }
    for augment in augmenters.values():
        augment(images, tf.constant([0, 0], tf.int64))  # traced before timing
    times: dict[str, list[float]] = {name: [] for name in augmenters}
    for round_index in range(rounds):
        for name, augment in augmenters.items():
            start = time.perf_counter()
            for call in range(calls):
                augment(images, tf.constant([call, round_index], tf.int64)).numpy()
            times[name].append((time.perf_counter() - start) * 1000 / calls)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.augment_cost", description=__doc__)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=100, help="batches per option and round")
    arguments = parser.parse_args(argv)
    figures = milliseconds_per_batch(arguments.batch_size, arguments.rounds, arguments.calls)
    baseline = figures[BASELINE]
    rows = [[name, f"{value:.2f}", f"{value / baseline:.2f}x"] for name, value in figures.items()]
    print(f"augmentation of one batch of {arguments.batch_size} (median of {arguments.rounds}):")
    print(tabulate(rows, headers=["augment", "ms per batch", f"against {BASELINE}"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
