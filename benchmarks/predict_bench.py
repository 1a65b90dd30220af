"""`python -m benchmarks.predict_bench RUN_DIR [--workdir DIR]`: what prediction on image
files gives and how fast, for a finished run:

- MNIST's test set written out as 10,000 PNGs, predicted with `--no-preprocess` (must give
  exactly the run's test accuracy) and with the MNIST recipe applied (how much it costs);
- images/s with the default decoding threads (one core left to the model) and with one
  thread per core (whether more decoding threads pay);
- the predict target (measured / target / met): the predict command of this version
  against the one the issue measured, in the same run (benchmarks/predict_versions.py);
  with --model, this version with that model too;
- user-like digits (pen strokes and every installed font, light and dark backgrounds,
  random sizes and places; see benchmarks/digit_images.py): accuracy by style.

Prints a table; the same library as `mnist-exp-predict` does the work.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from tabulate import tabulate

from benchmarks import targets
from benchmarks.digit_images import mnist_test_pngs, user_like_digits
from benchmarks.predict_versions import compare_with_baseline
from mnist_exp.machine import all_cores_but_one, available_cores
from mnist_exp.runs.load import open_finished_run
from mnist_exp.serving.predict import model_threads, predict_images
from mnist_exp.serving.predictors import load_predictor


def _label_of(path: str, dataset: str) -> int:
    stem = Path(path).stem
    return int(stem.split("_")[1] if dataset == "mnist_test" else stem.split("_")[0])


def run_predictions(predictor, paths, dataset: str, preprocess: bool, threads: int) -> dict:
    started = time.perf_counter()
    results = list(predict_images(predictor, paths, preprocess=preprocess, threads=threads))
    seconds = time.perf_counter() - started
    correct = [
        int(np.argmax(r.probabilities)) == _label_of(r.path, dataset)
        for r in results
        if r.error is None
    ]
    return {
        "results": results,
        "correct": correct,
        "accuracy": float(np.mean(correct)),
        "images_per_second": len(paths) / seconds,
        "failed": sum(r.error is not None for r in results),
    }


def by_style(results, correct) -> list[list]:
    groups = defaultdict(list)
    for result, right in zip((r for r in results if r.error is None), correct, strict=True):
        _, style, shade, _ = Path(result.path).stem.split("_")
        groups["pen strokes" if style == "pen" else "fonts"].append(right)
        groups[f"{shade} background"].append(right)
    return [[name, len(values), f"{np.mean(values):.4f}"] for name, values in groups.items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.predict_bench", description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--workdir", type=Path, help="where the PNGs go (default: a temp dir)")
    parser.add_argument("--per-style", type=int, default=10, help="user-like images per digit")
    parser.add_argument(
        "--model",
        type=Path,
        help="predict with this model file instead of the run's model.keras (e.g. "
        "RUN/export/model.onnx, written by mnist-exp-export)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds of the versions' comparison"
    )
    parser.add_argument(
        "--copies", type=int, default=3, help="copies of the test PNGs the versions predict"
    )
    arguments = parser.parse_args(argv)
    run = open_finished_run(arguments.run_dir)
    settings = run.settings()
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="predict_bench_"))
    from mnist_exp.data.prepare import prepare_splits

    splits = prepare_splits(settings.dataset, settings.seed)
    print(f"Writing {len(splits.y_test):,} test PNGs and user-like digits into {workdir} ...")
    mnist = mnist_test_pngs(splits.x_test, splits.y_test, workdir / "mnist_test")
    drawn = user_like_digits(workdir / "user_like", per_style=arguments.per_style)
    model = arguments.model or run.directory
    predictor = load_predictor(model, model_threads(model))
    print(f"Model: {predictor.facts.path} ({predictor.format})")
    predictor.predict(splits.x_test[:256])  # warm-up: tracing and allocation, not timed
    rows, figures = [], {}
    default, cores = all_cores_but_one(), available_cores()
    for name, paths, dataset, preprocess, threads in [
        ("MNIST test PNGs, --no-preprocess", mnist, "mnist_test", False, default),
        ("MNIST test PNGs, MNIST recipe", mnist, "mnist_test", True, default),
        ("MNIST test PNGs, MNIST recipe, all cores", mnist, "mnist_test", True, cores),
        ("user-like digits, MNIST recipe", drawn, "user_like", True, default),
    ]:
        figures[name] = run_predictions(predictor, paths, dataset, preprocess, threads)
        outcome = figures[name]
        speed = f"{outcome['images_per_second']:,.0f}"
        rows.append([name, len(paths), threads, f"{outcome['accuracy']:.4f}", speed])
    print(tabulate(rows, headers=["images", "count", "threads", "accuracy", "images/s"]))
    plain = figures["MNIST test PNGs, --no-preprocess"]
    print(
        f"\nRun's recorded test accuracy {run.metrics['test_accuracy']:.4f}; from the PNGs "
        f"with --no-preprocess {plain['accuracy']:.4f} "
        f"({'identical' if plain['accuracy'] == run.metrics['test_accuracy'] else 'DIFFERENT'})."
    )
    recipe = figures["MNIST test PNGs, MNIST recipe"]["images_per_second"]
    ratio = figures["MNIST test PNGs, MNIST recipe, all cores"]["images_per_second"] / recipe
    print(f"MNIST recipe: {cores} decoding threads / {default} (the default) = {ratio:.2f}x")
    print()
    speed = compare_with_baseline(
        run, arguments.model, mnist[0].parent, workdir, arguments.rounds, arguments.copies
    )
    user = figures["user-like digits, MNIST recipe"]
    print()
    print(targets.table([speed, targets.font_digits(user["accuracy"])]))
    print("\nUser-like digits by style:")
    print(
        tabulate(by_style(user["results"], user["correct"]), headers=["style", "count", "accuracy"])
    )
    # The run's own model must give its recorded accuracy exactly; another file, its own.
    return 0 if arguments.model or plain["accuracy"] == run.metrics["test_accuracy"] else 1


if __name__ == "__main__":
    sys.exit(main())
