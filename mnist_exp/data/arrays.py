"""The in-memory form every data source is converted to."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mnist_exp.data.disk_images import DiskImages
from mnist_exp.errors import DataError
from mnist_exp.input_spec import InputSpec

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
    """Train and test images as uint8 arrays of shape (N, H, W) (grey) or (N, H, W, 3) (RGB),
    labels as uint8 (N,); `recipe` says how a new image file becomes one of them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str
    recipe: str = field(default="digits", kw_only=True)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) as the models take the images."""
        height, width = self.x_train.shape[1:3]
        return (height, width, self.x_train.shape[3] if self.x_train.ndim == 4 else 1)

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec(*self.image_shape, recipe=self.recipe)


def with_channels(images: np.ndarray) -> np.ndarray:
    """(N, H, W) grey images as (N, H, W, 1); (N, H, W, C) as they are."""
    return images if images.ndim == 4 else images[..., np.newaxis]


def checked_image_data(
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    class_names: tuple[str, ...],
    source: str,
    recipe: str = "digits",
) -> ImageData:
    """Validates shapes, dtypes and label ranges, then returns an ImageData.

    Raises:
        DataError: naming `source` and what is wrong with it.
    """
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    for name, array in arrays.items():
        if not isinstance(array, np.ndarray | DiskImages):
            raise DataError(f"{source}: '{name}' is not an array.")
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if not _image_batch_shape(images.shape, recipe):
            expected = "(N, 28, 28)" if recipe == "digits" else "(N, H, W) or (N, H, W, 3)"
            raise DataError(
                f"{source}: x_{split} has shape {images.shape}, expected {expected} images."
            )
        if labels.shape != (images.shape[0],):
            raise DataError(
                f"{source}: y_{split} has shape {labels.shape}, expected ({images.shape[0]},) "
                f"to match x_{split}."
            )
        if images.dtype != np.uint8:
            raise DataError(f"{source}: x_{split} has dtype {images.dtype}, expected uint8.")
        if images.shape[0] == 0:
            raise DataError(f"{source}: x_{split} holds no images; the {split} set is empty.")
        _check_labels(labels, f"{source}: y_{split}", len(class_names))
    if x_test.shape[1:] != x_train.shape[1:]:
        raise DataError(
            f"{source}: x_train's images are {x_train.shape[1:]} but x_test's {x_test.shape[1:]}; "
            "both splits must have one size and colour mode."
        )
    return ImageData(
        x_train=x_train,
        y_train=y_train.astype(np.uint8),
        x_test=x_test,
        y_test=y_test.astype(np.uint8),
        class_names=class_names,
        source=source,
        recipe=recipe,
    )


def _image_batch_shape(shape: tuple[int, ...], recipe: str) -> bool:
    if recipe == "digits":
        return shape[1:] == (28, 28)
    return (len(shape) == 3 or (len(shape) == 4 and shape[3] in (1, 3))) and min(shape[1:3]) > 0


def _check_labels(labels: np.ndarray, name: str, num_classes: int) -> None:
    """Labels must be whole class numbers 0..num_classes-1: floats are accepted only when
    every value is whole (never truncated), NaN and strings never."""
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all():
            raise DataError(
                f"{name} has NaN or infinite labels; every label must be a class number."
            )
        if not (labels == np.round(labels)).all():
            example = labels[labels != np.round(labels)][0]
            raise DataError(
                f"{name} has fractional labels (such as {example}); labels must be whole class "
                f"numbers 0..{num_classes - 1}, not probabilities or one-hot rows."
            )
    elif labels.dtype.kind not in "iub":
        raise DataError(
            f"{name} has labels of dtype {labels.dtype}; expected integers 0..{num_classes - 1} "
            "(map class names to numbers first)."
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise DataError(f"{name} has labels outside 0..{num_classes - 1}.")
