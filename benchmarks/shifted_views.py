"""`python -m benchmarks.shifted_views RUN_DIR ... [--split validation|test]`: would averaging a
finished run's predictions over one-pixel shifts of each image (test-time augmentation) make
it more accurate? Per run, the accuracy with each image as it is, with 5 views (the image and
its four one-pixel shifts) and with 9 (every shift by -1, 0, 1 pixels in both directions),
their log-probabilities averaged. Judge on the validation split (the default); the test split
is for reporting what validation chose.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
from tabulate import tabulate

from mnist_exp.runs.load import open_finished_run

VIEWS = {
    "as is": [(0, 0)],
    "5 views": [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)],
    "9 views": [(down, right) for down in (-1, 0, 1) for right in (-1, 0, 1)],
}


def shifted(images: np.ndarray, down: int, right: int) -> np.ndarray:
    """`images` [N, H, W] moved by whole pixels, the uncovered border black."""
    height, width = images.shape[1:3]
    moved = np.zeros_like(images)
    rows_to = slice(max(down, 0), height + min(down, 0))
    rows_from = slice(max(-down, 0), height + min(-down, 0))
    columns_to = slice(max(right, 0), width + min(right, 0))
    columns_from = slice(max(-right, 0), width + min(-right, 0))
    moved[:, rows_to, columns_to] = images[:, rows_from, columns_from]
    return moved


def accuracies(run_dir: Path, split: str) -> dict[str, float]:
    """The run's accuracy on `split` ('validation' or 'test') with each entry of VIEWS."""
    from mnist_exp.data.pipeline import make_evaluation_dataset
    from mnist_exp.data.prepare import prepare_splits
    from mnist_exp.models.inference import predict

    run = open_finished_run(run_dir)
    settings = run.settings()
    splits = prepare_splits(settings.dataset, settings.seed)
    images, labels = (
        (splits.x_val, splits.y_val) if split == "validation" else (splits.x_test, splits.y_test)
    )
    offsets = sorted({offset for views in VIEWS.values() for offset in views})
    every_view = np.concatenate([shifted(images, *offset) for offset in offsets])
    probabilities, _ = predict(
        run.load_model(), make_evaluation_dataset(every_view, np.tile(labels, len(offsets)))
    )
    log_probabilities = np.log(np.clip(probabilities, 1e-7, 1.0)).reshape(
        len(offsets), len(labels), -1
    )
    by_offset = dict(zip(offsets, log_probabilities, strict=True))
    return {
        name: float(np.mean(sum(by_offset[offset] for offset in views).argmax(1) == labels))
        for name, views in VIEWS.items()
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shifted_views", description=__doc__)
    parser.add_argument("run_dirs", nargs="+", type=Path, help="finished runs")
    parser.add_argument("--split", choices=["validation", "test"], default="validation")
    arguments = parser.parse_args(argv)
    rows, columns = [], {name: [] for name in VIEWS}
    for run_dir in arguments.run_dirs:
        figures = accuracies(run_dir, arguments.split)
        rows.append([str(run_dir), *(f"{figures[name]:.2%}" for name in VIEWS)])
        for name in VIEWS:
            columns[name].append(figures[name])
    rows.append(["mean", *(f"{statistics.mean(columns[name]):.3%}" for name in VIEWS)])
    print(f"{arguments.split} accuracy, log-probabilities averaged over the views:")
    print(tabulate(rows, headers=["run", *VIEWS]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
