"""Small, learnable, MNIST-shaped data made on the spot, for tests and smoke runs."""

from __future__ import annotations

import numpy as np

from mnist_exp.data.arrays import DIGIT_NAMES, ImageData

IMAGE_SIDE = 28


def _class_templates(num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """One blurred random stroke pattern per class, scaled to 0..255."""
    templates = np.zeros((num_classes, IMAGE_SIDE, IMAGE_SIDE))
    for template in templates:
        for _ in range(4):
            row, col = rng.integers(6, 22, size=2)
            height, width = rng.integers(2, 8, size=2)
            template[row - height // 2 : row + height, col - width // 2 : col + width] = 1.0
    return templates * 255.0


def make_synthetic(num_train: int, num_test: int, seed: int = 0) -> ImageData:
    """Makes a dataset of shifted, noisy class templates that a small net learns in one epoch.

    Args:
        num_train: training images to make.
        num_test: test images to make.
        seed: seeds templates, labels, shifts and noise.
    """
    rng = np.random.default_rng(seed)
    templates = _class_templates(len(DIGIT_NAMES), rng)

    def sample(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.arange(count) % len(DIGIT_NAMES)
        rng.shuffle(labels)
        shifts = rng.integers(-2, 3, size=(count, 2))
        images = (
            np.stack(
                [
                    np.roll(templates[label], tuple(shift), axis=(0, 1))
                    for label, shift in zip(labels, shifts, strict=True)
                ]
            )
            if count
            else np.zeros((0, IMAGE_SIDE, IMAGE_SIDE))
        )
        images = images + rng.normal(0.0, 40.0, size=images.shape)
        return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.uint8)

    x_train, y_train = sample(num_train)
    x_test, y_test = sample(num_test)
    return ImageData(x_train, y_train, x_test, y_test, DIGIT_NAMES, source="synthetic")
