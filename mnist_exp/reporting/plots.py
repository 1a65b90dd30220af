"""Figures of a run. Matplotlib's object API only: no pyplot, no global backend state."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def confusion_matrix_figure(matrix: np.ndarray, class_names, title: str) -> Figure:
    """Counts with row-normalized colours, so rare classes' errors stay visible."""
    size = len(class_names)
    figure = Figure(figsize=(1.0 + 0.6 * size, 0.8 + 0.6 * size), layout="constrained")
    axes = figure.add_subplot()
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, fraction=0.046, label="share of true class")
    for row in range(size):
        for col in range(size):
            if matrix[row, col]:
                axes.text(
                    col,
                    row,
                    str(matrix[row, col]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if rates[row, col] > 0.5 else "black",
                )
    axes.set_xticks(range(size), class_names, rotation=45, ha="right")
    axes.set_yticks(range(size), class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    return figure


def _mosaic(images, rows: int, columns: int, gap: int, band: int) -> np.ndarray:
    """The images tiled on white (0 for grey images drawn inverted, 255 for colour), `gap`
    pixels apart and `band` pixels of caption room under each row."""
    images = [np.squeeze(image) for image in images]
    height, width = images[0].shape[:2] if images else (28, 28)
    cell_height, cell_width = height + band, width + gap
    channels = images[0].shape[2:] if images else ()
    mosaic = np.full(
        (rows * cell_height, columns * cell_width, *channels), 255 if channels else 0, np.float32
    )
    for index, image in enumerate(images):
        top, left = (index // columns) * cell_height, (index % columns) * cell_width + gap // 2
        mosaic[top : top + height, left : left + width] = image
    return mosaic


def image_grid_figure(images, captions, title: str, columns: int = 8, colors=None) -> Figure:
    """A grid of images (grey or RGB), each with a caption underneath: one picture of all the
    images (one Axes, not one per image: ten times faster to draw)."""
    columns = max(4, min(columns, len(images)))  # a few images: no wide empty row
    rows = max(1, math.ceil(len(images) / columns))
    title_inches = 0.6
    height = 1.55 * rows + title_inches
    figure = Figure(figsize=(1.3 * columns, height))
    figure.suptitle(title, wrap=True)
    axes = figure.add_axes((0.01, 0.01, 0.98, 1 - title_inches / height - 0.01))
    axes.axis("off")
    side = np.squeeze(images[0]).shape[0] if len(images) else 28
    gap, band = round(side * 0.2), round(side * 0.45)  # a 1.3 x 1.55 inch cell per image
    mosaic = _mosaic(images, rows, columns, gap, band)
    if mosaic.ndim == 3:  # colour, as it is
        axes.imshow(mosaic / 255.0, interpolation="nearest")
    else:  # grey, dark ink on white as on paper
        axes.imshow(mosaic, cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
    cell_height, cell_width = mosaic.shape[0] / rows, mosaic.shape[1] / columns
    for index, caption in enumerate(captions):
        row, column = divmod(index, columns)
        axes.text(
            (column + 0.5) * cell_width - 0.5,
            row * cell_height + side,
            caption,
            ha="center",
            va="top",
            fontsize=7,
            color=colors[index] if colors else "black",
        )
    return figure


def training_curves_figure(history: pd.DataFrame, title: str) -> Figure:
    """Loss, accuracy and learning rate per epoch, train against validation."""
    figure = Figure(figsize=(13, 3.6))
    # Fixed margins: a layout engine would draw the figure several times over.
    figure.subplots_adjust(left=0.055, right=0.99, bottom=0.14, top=0.82, wspace=0.28)
    figure.suptitle(title)
    epochs = history["epoch"]  # numbered from 1, as in the log
    # Half an epoch either side: one or two epochs get whole-number ticks, not 0.945..1.050.
    epoch_range = (epochs.min() - 0.5, epochs.max() + 0.5)
    for index, metric in enumerate(("loss", "accuracy")):
        axes = figure.add_subplot(1, 3, index + 1)
        axes.plot(epochs, history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            axes.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        axes.set_xlabel("epoch")
        axes.set_xlim(*epoch_range)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        axes.set_ylabel(metric)
        axes.set_title(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    axes = figure.add_subplot(1, 3, 3)
    if "learning_rate" in history:
        axes.plot(epochs, history["learning_rate"], marker="o", color="tab:green")
    axes.set_xlabel("epoch")
    axes.set_xlim(*epoch_range)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.set_ylabel("learning rate (mid-epoch)")
    axes.set_title("learning rate")
    axes.grid(alpha=0.3)
    return figure


def class_balance_figure(counts: dict[str, np.ndarray], class_names, title: str) -> Figure:
    """Images per class in each split, as grouped bars."""
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / len(counts)
    positions = np.arange(len(class_names))
    for index, (split, split_counts) in enumerate(counts.items()):
        axes.bar(positions + index * width, split_counts, width, label=split)
    axes.set_xticks(positions + width * (len(counts) - 1) / 2, class_names, rotation=30, ha="right")
    axes.set_ylabel("images")
    axes.set_title(title)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars, never on them
    return figure
