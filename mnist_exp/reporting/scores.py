"""Confusion matrix and per-class precision, recall and F1, in NumPy and pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts: rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def per_class_scores(matrix: np.ndarray, class_names) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, with a macro-average row."""
    true_positives = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positives / predicted, 0.0)
        recall = np.where(actual > 0, true_positives / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    table = pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": actual},
        index=pd.Index(list(class_names), name="class"),
    )
    table.loc["macro avg"] = [precision.mean(), recall.mean(), f1.mean(), actual.sum()]
    table["support"] = table["support"].astype(int)
    return table
