"""`python -m benchmarks.streaming_rss [--images 10000] [--budget-mb 32]`: the peak memory
(RSS) of runs on folders whose converted images are several times `dataset.memory_budget_mb`
and so stay on disk, at two sizes (N and 2N images), against the same runs with the images
in memory and a run on a tiny folder (what TensorFlow and the model take without data); then
the peak of exporting each on-disk run (`mnist-exp-export RUN --formats tflite_float32`,
which measures the format on the run's whole test split). Each run is
`python -m mnist_exp dataset=folder dataset.path=DIR model=cnn_small trainer.epochs=1
dataset.small_below=0 dataset.memory_budget_mb=B` in its own process; the images are 64x64
RGB drawings, written fresh (one conversion, shared by the runs through the cache).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tabulate import tabulate

COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 60, 200)}


def write_folder(root: Path, count: int, side: int = 64) -> None:
    rng = np.random.default_rng(0)
    for index in range(count):
        name, colour = list(COLOURS.items())[index % len(COLOURS)]
        image = Image.new("RGB", (side, side), tuple(int(v) for v in rng.integers(180, 256, 3)))
        left, top = (int(v) for v in rng.integers(0, side // 2, 2))
        size = int(rng.integers(8, side // 2))
        ImageDraw.Draw(image).ellipse((left, top, left + size, top + size), fill=colour)
        (root / name).mkdir(parents=True, exist_ok=True)
        image.save(root / name / f"{index}.png")


def peak_rss(command: list[str], cache: Path) -> tuple[float, float]:
    """Runs `command`; its peak RSS in MB (from wait4) and its wall seconds."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env={**os.environ, "MNIST_EXP_CACHE": str(cache)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    errors = process.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(errors[-3000:])
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def peak_rss_run(folder: Path, budget_mb: int, run_dir: Path, cache: Path) -> dict:
    """Runs the training command; its peak RSS, wall time and metrics."""
    command = [sys.executable, "-m", "mnist_exp", "dataset=folder", f"dataset.path={folder}",
               "model=cnn_small", "trainer.epochs=1", "dataset.small_below=0",
               f"dataset.memory_budget_mb={budget_mb}", f"hydra.run.dir={run_dir}"]  # fmt: skip
    peak_mb, wall = peak_rss(command, cache)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {"peak_mb": peak_mb, "wall": wall, "run_dir": run_dir,
            "accuracy": metrics["test_accuracy"], "images": metrics["num_train"]}  # fmt: skip


def peak_rss_export(run_dir: Path, cache: Path) -> float:
    """The peak RSS of exporting the run to TFLite, measured on its whole test split."""
    command = [sys.executable, "-m", "mnist_exp.cli.export", str(run_dir),
               "--formats", "tflite_float32"]  # fmt: skip
    return peak_rss(command, cache)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=10_000, help="the smaller big folder")
    parser.add_argument("--budget-mb", type=int, default=32)
    arguments = parser.parse_args()
    sizes = (arguments.images, 2 * arguments.images)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for count in (60, *sizes):
            write_folder(scratch / str(count), count)
        runs = {("tiny folder", 60, 4096): None}
        for count in sizes:  # on disk first: it converts, and the in-memory run reads its cache
            runs[("on disk", count, arguments.budget_mb)] = None
            runs[("in memory", count, 4096)] = None
        for number, (kind, count, budget) in enumerate(runs):
            runs[(kind, count, budget)] = peak_rss_run(
                scratch / str(count), budget, scratch / f"run{number}", scratch / "cache"
            )
        exports = {  # the test split stays on disk: export reads it a chunk at a time
            count: peak_rss_export(runs[("on disk", count, arguments.budget_mb)]["run_dir"],
                                   scratch / "cache")
            for count in sizes
        }  # fmt: skip
    base = runs[("tiny folder", 60, 4096)]["peak_mb"]
    rows = [
        [kind, count, f"{count * 64 * 64 * 3 / 2**20:.0f}", budget, f"{r['peak_mb']:.0f}",
         f"+{r['peak_mb'] - base:.0f}", f"{r['wall']:.1f}", f"{r['accuracy']:.4f}"]
        for (kind, count, budget), r in sorted(runs.items(), key=lambda item: item[0][1])
    ]  # fmt: skip
    print(tabulate(rows, headers=["run", "images", "data MB", "budget MB", "peak RSS MB",
                                  "over tiny", "wall s", "accuracy"]))  # fmt: skip
    small, large = (runs[("on disk", count, arguments.budget_mb)]["peak_mb"] for count in sizes)
    held_small, held_large = (runs[("in memory", count, 4096)]["peak_mb"] for count in sizes)
    data = (sizes[1] - sizes[0]) * 64 * 64 * 3 / 2**20
    print(f"twice the images ({data:.0f} MB more converted): on disk {large - small:+.0f} MB of "
          f"peak RSS, in memory {held_large - held_small:+.0f} MB")  # fmt: skip
    print(f"exporting the on-disk runs to TFLite (the test split, a fifth of the images, "
          f"measured whole): peak RSS {exports[sizes[0]]:.0f} MB, then "
          f"{exports[sizes[1]]:.0f} MB with twice the images "
          f"({exports[sizes[1]] - exports[sizes[0]]:+.0f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
