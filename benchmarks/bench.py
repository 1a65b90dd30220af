"""`python -m benchmarks.bench` (`make bench`): how fast mnist_exp trains, measured against a
plain Keras script.

One invocation, on real MNIST, contenders interleaved so machine noise hits all alike:
  1. time to 99.0% and 99.5% test accuracy (median over seeds) of the framework's fast presets
     and of the classic tutorial CNN written as a plain Keras script (the reference);
  2. overhead: images/s of the framework training the classic CNN vs. the plain script;
  3. efficiency: images/s x training FLOPs per image, as a share of a measured matmul peak;
  4. start-up: process start to the end of the first training step, TensorFlow import apart;
  5. peak memory (resident set) of a training process;
  6. a whole `mnist-exp +experiment=fast_99` process beside a bare `import tensorflow`;
then each performance target: measured / target / met (benchmarks/targets.py).
Writes bench.md and bench.json into --output (default outputs/bench/DATE_TIME).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from benchmarks import targets, whole_run
from mnist_exp.machine import available_cores, cpu_model
from mnist_exp.safe_files import write_text_atomically

log = logging.getLogger("mnist_exp.bench")

ROOT = Path(__file__).resolve().parents[1]  # the repository: start-up probes run from there
COMMAND = [sys.executable, "-m", "benchmarks.bench"]
TARGETS = (0.99, 0.995)
REFERENCE = "plain Keras classic CNN"
DEFAULT_SEEDS = 3
SEEDS = {"fast_99": targets.FAST_SEEDS}  # the targets' own seed counts


@dataclass
class Outcome:
    """One training run: seconds of training until each target test accuracy was reached."""

    contender: str
    seed: int
    seconds_to: dict[float, float | None] = field(default_factory=dict)
    best_accuracy: float = 0.0
    epochs: int = 0
    training_seconds: float | None = None  # all of its training, reached or not


# ----------------------------------------------------------------------------- data and timing
def load_splits(dataset: str, max_train: int | None, seed: int = 0):
    from mnist_exp.data.prepare import prepare_splits

    overrides = [
        f"dataset={dataset}",
        f"dataset.max_train_examples={max_train or 'null'}",
        f"dataset.validation_size={5000 if max_train is None else 0.1}",
        *(["dataset.download=false"] if dataset != "synthetic" else []),
    ]
    return prepare_splits(framework_settings(overrides).dataset, seed)


def framework_settings(overrides: list[str]):
    """The framework's settings for `overrides`, composed from its own config."""
    from hydra import compose, initialize_config_dir

    from mnist_exp.settings import CONFIG_DIR, parse_settings

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return parse_settings(compose("config", overrides))


def time_to_accuracy_callback(splits, targets, eval_batch_size: int = 2000):
    """A callback timing training (test evaluation excluded) until each target is reached."""
    import keras

    images = splits.x_test[..., None].astype("float32")
    labels = splits.y_test

    class TimeToAccuracy(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.training_seconds = 0.0
            self.seconds_to: dict[float, float | None] = dict.fromkeys(targets)
            self.best_accuracy = 0.0
            self.epochs = 0

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.training_seconds += time.perf_counter() - self._started
            self.epochs = epoch + 1
            probabilities = self.model.predict(images, batch_size=eval_batch_size, verbose=0)
            accuracy = float((probabilities.argmax(axis=1) == labels).mean())
            self.best_accuracy = max(self.best_accuracy, accuracy)
            for target in targets:
                if self.seconds_to[target] is None and accuracy >= target:
                    self.seconds_to[target] = self.training_seconds
            log.info(
                "  epoch %d: test accuracy %.4f after %.1fs of training",
                epoch + 1,
                accuracy,
                self.training_seconds,
            )
            if all(value is not None for value in self.seconds_to.values()):
                self.model.stop_training = True

    return TimeToAccuracy()


def epoch_timer():
    """A callback keeping each epoch's duration (epoch hooks only: no per-step work)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._started)

    return EpochTimer()


# ----------------------------------------------------------------------------- contenders
def classic_cnn_plain_keras():
    """The classic tutorial CNN exactly as a plain Keras script writes it."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def fit_plain_keras(splits, seed: int, epochs: int, callbacks, num_images: int | None = None):
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = classic_cnn_plain_keras()
    count = num_images or len(splits.y_train)
    images = splits.x_train[:count, ..., None].astype("float32") / 255.0
    model.fit(
        images,
        splits.y_train[:count],
        batch_size=128,
        epochs=epochs,
        callbacks=callbacks,
        verbose=0,
    )
    return model


def fit_framework(
    preset_overrides: list[str],
    splits,
    seed: int,
    epochs: int,
    callbacks,
    num_images: int | None = None,
):
    """Trains with the framework's own config, builders, pipeline and compile settings."""
    from mnist_exp.training.fitting import training_dataset
    from mnist_exp.training.strategy import build_strategy
    from mnist_exp.training.trainable import build_trainable

    epochs_override = [f"trainer.epochs={epochs}"] if epochs else []
    settings = framework_settings([*preset_overrides, f"seed={seed}", *epochs_override])
    count = num_images or len(splits.y_train)
    splits = dataclasses.replace(
        splits, x_train=splits.x_train[:count], y_train=splits.y_train[:count]
    )
    strategy = build_strategy(settings.strategy)
    plan, model = build_trainable(settings, splits, strategy)
    model.fit(
        training_dataset(settings, splits, plan),
        epochs=settings.trainer.epochs,
        steps_per_epoch=plan.steps_per_epoch,
        callbacks=callbacks,
        verbose=0,
        shuffle=False,
    )
    return model


# ----------------------------------------------------------------------------- measurements
def measure_time_to_accuracy(
    splits, presets: dict[str, list[str]], seeds: dict[str, int], max_epochs: dict, targets=TARGETS
) -> list[Outcome]:
    """Each contender on seeds 0..seeds[name]-1, interleaved seed by seed."""
    outcomes = []
    total = sum(seeds.values())
    for seed in range(max(seeds.values())):
        for name, overrides in presets.items():
            if seed >= seeds[name]:
                continue
            log.info("time to accuracy %d/%d: %s, seed %d", len(outcomes) + 1, total, name, seed)
            callback = time_to_accuracy_callback(splits, targets)
            if overrides is None:
                fit_plain_keras(splits, seed, max_epochs[name], [callback])
            else:
                fit_framework(overrides, splits, seed, max_epochs[name], [callback])
            outcomes.append(
                Outcome(
                    name,
                    seed,
                    callback.seconds_to,
                    callback.best_accuracy,
                    callback.epochs,
                    callback.training_seconds,
                )
            )
    return outcomes


class _Terminal:
    """Stands in for a terminal that throws the drawing away: the progress bar draws
    exactly as it would on screen."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


OVERHEAD_CONTENDERS = ("plain", "framework", "framework_progress_bar")


def measure_overhead(splits, num_images: int, rounds: int) -> dict:
    """Images/s of epoch 2 (epoch 1 traces) on `num_images` images, alternating contenders:
    plain Keras, the framework, and the framework drawing its live progress bar."""
    from mnist_exp.training.epoch_progress import ProgressBar

    speeds = {contender: [] for contender in OVERHEAD_CONTENDERS}
    passes = rounds * len(OVERHEAD_CONTENDERS)
    for round_index in range(rounds):
        for contender in OVERHEAD_CONTENDERS:
            number = sum(map(len, speeds.values())) + 1
            log.info("overhead pass %d/%d: %s", number, passes, contender)
            timer = epoch_timer()
            if contender == "plain":
                model = fit_plain_keras(splits, round_index, 2, [timer], num_images)
                speeds[contender].append(num_images / timer.seconds[-1])
                continue
            callbacks = [timer]
            if contender == "framework_progress_bar":
                callbacks.append(ProgressBar(2, math.ceil(num_images / 128), 128, _Terminal()))
            model = fit_framework(
                ["+experiment=classic_cnn"], splits, round_index, 2, callbacks, num_images
            )
            speeds[contender].append(num_images / timer.seconds[-1])
    plain, framework, with_bar = (statistics.median(speeds[key]) for key in OVERHEAD_CONTENDERS)
    from benchmarks.flops import training_flops_per_image

    return {
        "framework_images_per_second": framework,
        "plain_images_per_second": plain,
        "progress_bar_images_per_second": with_bar,
        "ratio": framework / plain,
        "progress_bar_ratio": with_bar / framework,
        "rounds": rounds,
        "training_flops_per_image": training_flops_per_image(model),
    }


def measure_peak_flops(size: int = 2048, repeats: int = 10) -> float:
    """float32 FLOP/s of a large matrix multiply: this CPU's practical peak."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    (a @ b).numpy()
    started = time.perf_counter()
    for _ in range(repeats):
        c = a @ b
    c.numpy()
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def measure_startup(dataset: str, max_train: int | None, runs: int) -> dict:
    """Runs the start-up probe in `runs` fresh processes, one after another: the median of
    each timing (one process is at the mercy of a busy moment) and the highest peak memory."""
    subsample = ["--max-train", str(max_train)] if max_train else []
    probes = []
    for _ in range(runs):
        started = time.time()
        output = subprocess.run(
            [
                *COMMAND,
                "--startup-probe",
                str(started),
                "--dataset",
                dataset,
                *subsample,
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
        probes.append(json.loads(output.strip().splitlines()[-1]))
    figures = {key: statistics.median(probe[key] for probe in probes) for key in probes[0]}
    figures["peak_rss_mib"] = max(probe["peak_rss_mib"] for probe in probes)
    figures["rest_to_first_step_seconds_each"] = [
        round(probe["rest_to_first_step_seconds"], 2) for probe in probes
    ]
    return figures


def peak_rss_mib() -> float:
    """This process's own peak resident memory. (getrusage's ru_maxrss would also count the
    parent's peak, which Linux carries across fork and exec.)"""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def startup_probe(process_started: float, dataset: str, max_train: int | None) -> None:
    """In a fresh process: TensorFlow import, then config, data, model and the first training
    step, then 100 more steps (memory has levelled off by then) for peak memory. Prints one
    JSON line."""
    import_started = time.time()
    import tensorflow  # noqa: F401

    imported = time.time()
    callback_state = {}

    import keras

    class FirstStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                callback_state["first_step_done"] = time.time()
            if batch == 100:
                self.model.stop_training = True

    splits = load_splits(dataset, max_train)
    fit_framework([], splits, 0, 1, [FirstStep()])
    print(
        json.dumps(
            {
                "python_start_seconds": import_started - process_started,
                "tensorflow_import_seconds": imported - import_started,
                "rest_to_first_step_seconds": callback_state["first_step_done"] - imported,
                "peak_rss_mib": peak_rss_mib(),
            }
        )
    )


# ----------------------------------------------------------------------------- report
def median_time(values) -> float | None:
    """Median over seeds, a seed that never reached the target counting as infinitely slow;
    None when that median is infinite."""
    median = statistics.median(math.inf if value is None else value for value in values)
    return None if math.isinf(median) else median


def summarize(outcomes: list[Outcome], targets=TARGETS) -> list[dict]:
    rows = []
    for name in dict.fromkeys(outcome.contender for outcome in outcomes):
        runs = [outcome for outcome in outcomes if outcome.contender == name]
        row = {
            "contender": name,
            "seeds": len(runs),
            "best_test_accuracy_median": statistics.median(r.best_accuracy for r in runs),
        }
        for target in targets:
            times = [run.seconds_to[target] for run in runs]
            row[f"seconds_to_{target}"] = median_time(times)
            reached = sum(time is not None for time in times)
            row[f"reached_{target}"] = f"{reached}/{len(times)}"
        rows.append(row)
    reference = next((row for row in rows if row["contender"] == REFERENCE), None)
    for row in rows:
        for target in targets:
            mine = row[f"seconds_to_{target}"]
            theirs = reference and reference[f"seconds_to_{target}"]
            row[f"speedup_{target}"] = theirs / mine if mine and theirs else None
    return rows


def _cell(value) -> str:
    if value is None:
        return "not reached"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def markdown(results: dict) -> str:
    lines = [
        f"Measured {results['date']} on {results['machine']}; command: `{results['command']}`",
        "",
        targets.table([targets.Check(**check) for check in results["targets"]]),
        "",
    ]
    rows = results["time_to_accuracy"]
    if rows:
        headers = list(rows[0])
        lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(_cell(row[key]) for key in headers) + " |" for row in rows]
        lines.append("")
    lines.append("| measure | value |")
    lines.append("|---|---|")
    for key, value in results["figures"].items():
        lines.append(f"| {key} | {_cell(value)} |")
    return "\n".join(lines) + "\n"


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(
        prog=" ".join(COMMAND[1:]),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--seeds",
        type=int,
        help=f"seeds per preset and reference (default: {targets.FAST_SEEDS} for fast_99, "
        f"{DEFAULT_SEEDS} for the others)",
    )
    parser.add_argument(
        "--presets",
        nargs="*",
        default=["fast_99", "fast_995"],
        help="experiment presets to race against the reference (default: fast_99 fast_995)",
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        help="override the presets' own epochs, and so their schedules (default: their own)",
    )
    parser.add_argument(
        "--reference-epochs", type=int, default=6, help="the plain-Keras reference's epochs (6)"
    )
    parser.add_argument(
        "--overhead-images",
        type=int,
        default=12800,
        help="images per timed pass of the framework-vs-plain-Keras overhead figure (12800)",
    )
    parser.add_argument(
        "--overhead-rounds", type=int, default=3, help="interleaved overhead passes (3)"
    )
    parser.add_argument(
        "--dataset", default="mnist", choices=("mnist", "synthetic"), help="default: mnist"
    )
    parser.add_argument(
        "--max-train",
        type=int,
        help="subsample the training set, for smoke tests (default: all of it)",
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=("accuracy", "overhead", "startup", "whole-run"),
        help="parts not to measure (default: none)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="folder for bench.md and bench.json (default: outputs/bench/DATE_TIME)",
    )
    parser.add_argument(
        "--startup-runs", type=int, default=3, help="fresh processes timed for start-up (default 3)"
    )
    parser.add_argument(
        "--whole-run-rounds",
        type=int,
        default=5,
        help="whole fast_99 processes, each beside a bare TensorFlow import (default 5)",
    )
    parser.add_argument("--startup-probe", type=float, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    if arguments.startup_probe is not None:
        startup_probe(arguments.startup_probe, arguments.dataset, arguments.max_train)
        return 0
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s")
    now = datetime.now()
    output = arguments.output or Path("outputs") / "bench" / now.strftime("%Y-%m-%d_%H-%M-%S")
    output.mkdir(parents=True, exist_ok=True)
    splits = load_splits(arguments.dataset, arguments.max_train)
    figures: dict = {}
    rows: list = []
    outcomes: list[Outcome] = []
    if "accuracy" not in arguments.skip:
        presets = {REFERENCE: None}
        presets.update({name: [f"+experiment={name}"] for name in arguments.presets})
        max_epochs = {name: arguments.max_epochs for name in presets}
        max_epochs[REFERENCE] = arguments.reference_epochs
        seeds = {name: arguments.seeds or SEEDS.get(name, DEFAULT_SEEDS) for name in presets}
        outcomes = measure_time_to_accuracy(splits, presets, seeds, max_epochs)
        rows = summarize(outcomes)
    if "overhead" not in arguments.skip:
        overhead = measure_overhead(splits, arguments.overhead_images, arguments.overhead_rounds)
        peak = measure_peak_flops()
        flops = overhead["training_flops_per_image"]
        figures.update(
            plain_keras_images_per_second=overhead["plain_images_per_second"],
            framework_images_per_second=overhead["framework_images_per_second"],
            overhead_ratio_framework_over_plain=overhead["ratio"],
            framework_with_progress_bar_images_per_second=overhead[
                "progress_bar_images_per_second"
            ],
            progress_bar_ratio_with_over_without=overhead["progress_bar_ratio"],
            classic_cnn_training_mflop_per_image=flops / 1e6,
            matmul_peak_gflop_per_second=peak / 1e9,
            framework_share_of_peak=overhead["framework_images_per_second"] * flops / peak,
        )
    if "startup" not in arguments.skip:
        startup = measure_startup(arguments.dataset, arguments.max_train, arguments.startup_runs)
        figures.update({f"startup_{key}": value for key, value in startup.items()})
    if "whole-run" not in arguments.skip and arguments.dataset == "mnist":
        whole = whole_run.measure("fast_99", arguments.whole_run_rounds, cwd=ROOT)
        figures.update(
            whole_run_seconds=whole["whole_run_seconds"],
            whole_run_bare_import_seconds=whole["bare_import_seconds"],
            whole_run_beyond_import_seconds=whole["beyond_import_seconds"],
            **{f"whole_run_phase: {name}": value for name, value in whole["phases"].items()},
        )
    figures["bench_process_peak_rss_mib"] = peak_rss_mib()
    checks = [
        targets.fast_99(outcomes, REFERENCE),
        targets.whole_run(figures),
        targets.fast_995(outcomes),
        targets.best_single(),
    ]
    results = {
        "date": now.isoformat(timespec="seconds"),
        "machine": f"{cpu_model()}, {available_cores()} cores",
        "command": " ".join(["python", *COMMAND[1:], *(argv or sys.argv[1:])]),
        "targets": [dataclasses.asdict(check) for check in checks],
        "time_to_accuracy": rows,
        "figures": figures,
        "runs": [outcome.__dict__ for outcome in outcomes],
    }
    write_text_atomically(output / "bench.json", json.dumps(results, indent=2, default=str))
    text = markdown(results)
    write_text_atomically(output / "bench.md", text)
    print(text)
    print(f"written: {output / 'bench.md'}, {output / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
