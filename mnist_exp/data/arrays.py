"""The in-memory form every data source is converted to."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_exp.errors import DataError

DIGIT_NAMES = tuple(str(digit) for digit in range(10))
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@dataclass(frozen=True)
class ImageData:
    """Train and test images as uint8 arrays of shape (N, H, W), labels as uint8 (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        height, width = self.x_train.shape[1:3]
        return (height, width, 1)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def checked_image_data(
    x_train, y_train, x_test, y_test, *, class_names: tuple[str, ...], source: str
) -> ImageData:
    """Validates shapes, dtypes and label ranges, then returns an ImageData.

    Raises:
        DataError: naming `source` and what is wrong with it.
    """
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    for name, array in arrays.items():
        if not isinstance(array, np.ndarray):
            raise DataError(f"{source}: '{name}' is not an array.")
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError(
                f"{source}: x_{split} has shape {images.shape}, expected (N, 28, 28) images."
            )
        if labels.shape != (images.shape[0],):
            raise DataError(
                f"{source}: y_{split} has shape {labels.shape}, expected ({images.shape[0]},) "
                f"to match x_{split}."
            )
        if images.dtype != np.uint8:
            raise DataError(f"{source}: x_{split} has dtype {images.dtype}, expected uint8.")
        if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise DataError(f"{source}: y_{split} has labels outside 0..{len(class_names) - 1}.")
    return ImageData(
        x_train=x_train,
        y_train=y_train.astype(np.uint8),
        x_test=x_test,
        y_test=y_test.astype(np.uint8),
        class_names=class_names,
        source=source,
    )
