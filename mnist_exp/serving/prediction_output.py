"""How `mnist-exp-predict` writes its results: a table, JSON or CSV row per image, and the
28x28 images the model saw."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tabulate import tabulate

from mnist_exp.safe_files import write_bytes_atomically
from mnist_exp.serving.predict import ImageResult
from mnist_exp.text import printable, spreadsheet_safe


def _top(probabilities: np.ndarray, values: list[float], names, k: int):
    """The k likeliest classes as (name, probability); `values`: the probabilities as floats."""
    return [(names[i], values[i]) for i in np.argsort(-probabilities)[:k].tolist()]


def result_row(result: ImageResult, names, top_k: int) -> dict:
    if result.blank:
        return {"path": result.path, "blank": True, "label": None, "class_name": None,
                "confidence": None, "probabilities": None, "top_k": []}  # fmt: skip
    label = int(np.argmax(result.probabilities))
    values = result.probabilities.tolist()  # Python floats: rounded without NumPy's per-item cost
    return {
        "path": result.path,
        "blank": False,
        "label": label,
        "class_name": names[label],
        "confidence": round(values[label], 6),
        "probabilities": [round(value, 6) for value in values],
        "top_k": [
            {"class_name": name, "probability": round(probability, 6)}
            for name, probability in _top(result.probabilities, values, names, top_k)
        ],
    }


class Output:
    """Rows written as they come (json, csv) or as one table at the end."""

    def __init__(self, kind: str, names, top_k: int):
        self.kind, self.names, self.top_k = kind, names, top_k
        self.table: list[list] = []
        self.csv = None
        if kind == "csv":
            self.csv = csv.writer(sys.stdout)
            header = ["path", "label", "class_name", "confidence", *(f"p_{n}" for n in names)]
            self.csv.writerow(map(spreadsheet_safe, header))

    def add(self, row: dict) -> None:
        if self.kind == "json":
            print(json.dumps(row), flush=False)
        elif self.kind == "csv":
            fixed = [row["path"], row["label"], row["class_name"], row["confidence"]]
            cells = [*fixed, *(row["probabilities"] or [None] * len(self.names))]
            self.csv.writerow(map(spreadsheet_safe, cells))
        elif row["blank"]:
            self.table.append([printable(row["path"]), "(blank)", "-", "no digit found"])
        else:
            top = ", ".join(
                f"{printable(t['class_name'])} {t['probability']:.3f}" for t in row["top_k"]
            )
            shown_path, shown_class = printable(row["path"]), printable(row["class_name"])
            self.table.append([shown_path, shown_class, f"{row['confidence']:.3f}", top])

    def finish(self) -> None:
        if self.kind == "table" and self.table:
            headers = ["image", "prediction", "confidence", f"top {self.top_k}"]
            print(tabulate(self.table, headers=headers, disable_numparse=True))
        sys.stdout.flush()


def save_preprocessed(result: ImageResult, folder: Path, index: int) -> None:
    name = f"{index:06d}_{Path(result.path).stem}.png"
    buffer = io.BytesIO()
    Image.fromarray(result.preprocessed.pixels).save(buffer, format="PNG")
    write_bytes_atomically(folder / name, buffer.getvalue())
