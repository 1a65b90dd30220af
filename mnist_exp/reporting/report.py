"""The evaluation report a run leaves: pictures, per-class scores, misclassified digits."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mnist_exp.reporting.plots import (
    class_balance_figure,
    confusion_matrix_figure,
    image_grid_figure,
    training_curves_figure,
)
from mnist_exp.reporting.scores import confusion_matrix, per_class_scores
from mnist_exp.safe_files import write_bytes_atomically, write_text_atomically
from mnist_exp.text import printable, spreadsheet_safe

log = logging.getLogger(__name__)

REPORT_FILES = {
    "confusion_matrix": "confusion_matrix.png",
    "misclassified": "misclassified.png",
    "training_curves": "training_curves.png",
    "samples": "samples.png",
    "augmented": "augmented.png",  # only runs that augment
    "class_balance": "class_balance.png",
}
PER_CLASS_FILE = "per_class_scores.csv"


PNG_DPI = 100


@dataclass
class Report:
    images: dict[str, bytes]  # name -> PNG, drawn once for the files and TensorBoard
    per_class: pd.DataFrame


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PNG_DPI)
    return buffer.getvalue()


def _worst_misclassified(images, y_true, probabilities, class_names, count: int):
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    confidence = probabilities[wrong, predicted[wrong]]
    worst = wrong[np.argsort(-confidence)][:count]
    captions = [
        f"true {class_names[y_true[i]]}\npred {class_names[predicted[i]]} "
        f"{probabilities[i, predicted[i]]:.0%}"
        for i in worst
    ]
    return images[worst], captions


def _errors_shown(shown: int, total: int) -> str:
    if total == 0:
        return "no test errors"
    if total == 1:
        return "the only test error"
    if shown == total:
        return f"all {total} test errors, most confident first"
    return f"the {shown} most confident of {total} test errors"


def _sample_grid(images, labels, class_names, per_class: int = 4):
    chosen = [
        index
        for label in range(len(class_names))
        for index in np.flatnonzero(labels == label)[:per_class]
    ]
    return images[chosen], [class_names[labels[i]] for i in chosen]


def build_report(
    *,
    splits,
    test_probabilities: np.ndarray,
    history: pd.DataFrame | None,
    title: str,
    misclassified_count: int = 32,
    augment: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Report:
    """Computes scores and draws the report's figures (nothing is written yet).

    Args:
        augment: gives uint8 training images (N, H, W) as training augments them, for a
            picture of the samples so; None when the run does not augment.
    """
    class_names = splits.class_names
    predicted = test_probabilities.argmax(axis=1)
    matrix = confusion_matrix(splits.y_test, predicted, len(class_names))
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    figures = {
        "confusion_matrix": confusion_matrix_figure(
            matrix, class_names, f"{title}: test confusion matrix (accuracy {accuracy:.2%})"
        )
    }
    wrong_images, captions = _worst_misclassified(
        splits.x_test, splits.y_test, test_probabilities, class_names, misclassified_count
    )
    figures["misclassified"] = image_grid_figure(
        wrong_images,
        captions,
        f"{title}: {_errors_shown(len(captions), int((predicted != splits.y_test).sum()))}",
        colors=["tab:red"] * len(captions),
    )
    sample_images, sample_captions = _sample_grid(splits.x_train, splits.y_train, class_names)
    figures["samples"] = image_grid_figure(
        sample_images, sample_captions, f"Training images ({splits.source})"
    )
    if augment is not None:
        figures["augmented"] = image_grid_figure(
            augment(sample_images),
            sample_captions,
            "The images of samples.png as training augments them (one draw)",
        )
    counts = {
        name: np.bincount(labels, minlength=len(class_names))
        for name, labels in (
            ("train", splits.y_train),
            ("validation", splits.y_val),
            ("test", splits.y_test),
        )
    }
    figures["class_balance"] = class_balance_figure(counts, class_names, "Images per class")
    if history is not None and len(history):
        figures["training_curves"] = training_curves_figure(history, f"{title}: training curves")
    images = {name: _png(figure) for name, figure in figures.items()}
    return Report(images=images, per_class=per_class_scores(matrix, class_names))


def write_report(report: Report, run_dir: Path) -> None:
    """Saves each picture as PNG and the per-class scores as CSV; logs the scores table."""
    for name, png in report.images.items():
        write_bytes_atomically(run_dir / REPORT_FILES[name], png)
    per_class = report.per_class
    as_csv = per_class.rename(index=spreadsheet_safe).to_csv(float_format="%.4f")
    write_text_atomically(run_dir / PER_CLASS_FILE, as_csv)
    shown = per_class.rename(index=printable).to_string(float_format="%.4f")
    log.info("Per-class test scores:\n%s", shown)
