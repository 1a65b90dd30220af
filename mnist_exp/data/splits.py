"""Stratified, seeded train/validation split and optional subsampling."""

from __future__ import annotations

import numpy as np

from mnist_exp.errors import DataError


def stratified_split(
    labels: np.ndarray, validation_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Splits indices into train and validation with each class in the same proportion.

    Args:
        labels: integer class labels.
        validation_size: a fraction in (0, 1), or a number of images (>= 1).
        seed: seeds the choice.

    Returns:
        (train_indices, validation_indices), each sorted.
    """
    count = len(labels)
    fraction = validation_size if validation_size < 1 else validation_size / max(count, 1)
    if not 0 < fraction < 1:
        raise DataError(
            f"dataset.validation_size={validation_size} leaves no training images out of "
            f"{count}; use a fraction in (0, 1) or fewer images."
        )
    classes, class_counts = np.unique(labels, return_counts=True)
    # Largest-remainder rounding: per-class shares that add up to exactly the requested size.
    shares = fraction * class_counts
    per_class = np.floor(shares).astype(int)
    shortfall = round(fraction * count) - per_class.sum()
    per_class[np.argsort(per_class - shares)[:shortfall]] += 1
    per_class = np.maximum(per_class, 1)
    rng = np.random.default_rng(seed)
    validation = []
    for label, size in zip(classes, per_class, strict=True):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        validation.append(members[:size])
    validation_indices = np.sort(np.concatenate(validation))
    train_mask = np.ones(count, dtype=bool)
    train_mask[validation_indices] = False
    return np.flatnonzero(train_mask), validation_indices


def stratified_subsample(labels: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """Indices of a stratified subsample of `size` (all indices when size is None or large)."""
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    _, chosen = stratified_split(labels, size, seed)
    return chosen
