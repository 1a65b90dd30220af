"""Image files as model inputs, many at a time, by the recipe of the run's input
(`InputSpec`): each file read (or its reason for failing); for the digit recipe, the readable
ones through it together, so that images of one shape share its work
(`preprocess.mnist_style_many`). Prediction and folder datasets both read files here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_exp.imaging.decode import MAX_PIXELS, ImageError, read_gray, read_pixels
from mnist_exp.imaging.preprocess import Preprocessed, as_is, mnist_style, mnist_style_many
from mnist_exp.input_spec import MNIST_INPUT, InputSpec


def read_image(path: Path, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray | None, str | None]:
    """(grayscale pixels, None) for a readable image, (None, reason) for any other file."""
    try:
        return read_gray(path, max_pixels=max_pixels), None
    except ImageError as error:
        return None, str(error)


def prepare_images(
    paths: list[Path],
    preprocess: bool = True,
    max_pixels: int = MAX_PIXELS,
    spec: InputSpec = MNIST_INPUT,
) -> list[tuple[Preprocessed | None, str | None]]:
    """(Preprocessed, None) for each usable image, (None, reason) for any other file, in the
    order of `paths`, as `spec` takes them. Without `preprocess`, images for the digit recipe
    must already be 28x28 MNIST-style."""
    if spec.recipe == "as_is":
        return [_fitted(path, spec, max_pixels) for path in paths]
    read = [read_image(path, max_pixels) for path in paths]
    usable = [(path, gray) for path, (gray, _) in zip(paths, read, strict=True) if gray is not None]
    if preprocess:
        prepared = [(image, None) for image in mnist_style_many([gray for _, gray in usable])]
    else:
        prepared = [_as_is(gray, path) for path, gray in usable]
    in_order = iter(prepared)
    return [next(in_order) if gray is not None else (None, error) for gray, error in read]


def _as_is(gray: np.ndarray, path: Path) -> tuple[Preprocessed | None, str | None]:
    try:
        return as_is(gray), None
    except ValueError as error:
        return None, f"{path}: {error}"


def prepare_one(
    source: Path | bytes, spec: InputSpec, name: str | None = None, max_pixels: int = MAX_PIXELS
) -> Preprocessed:
    """One image file (a path or its bytes) as `spec` takes it.

    Raises:
        ImageError: naming the file and why it cannot be used.
    """
    if spec.recipe == "digits":
        return mnist_style(read_gray(source, name, max_pixels))
    pixels = read_pixels(source, (spec.height, spec.width), spec.channels, name, max_pixels)
    return Preprocessed(pixels, inverted=False, blank=False)


def _fitted(path: Path, spec: InputSpec, max_pixels: int):
    try:
        return prepare_one(path, spec, max_pixels=max_pixels), None
    except ImageError as error:
        return None, str(error)
