"""The MNIST recipe, for users' images: what turns a digit drawn in an editor, photographed
on paper or rendered in a font into the kind of input the models were trained on.

MNIST's digits are light ink on black, scaled to fit 20x20 with their aspect ratio kept, and
placed in 28x28 so that their centre of mass is at the centre (LeCun et al.). So:
grayscale; invert when the background is light; take out uneven light (a gradient, a shadow);
stretch the contrast between background and ink; crop to the ink; fit into 20x20; paste into
28x28 centred by centre of mass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

SIZE = 28
FIT = 20
INK_THRESHOLD = 0.2  # of the stretched ink range: what counts as ink when cropping
UNEVEN_BORDER = 0.1  # spread of the border's grey levels (10th to 90th percentile) above
# which the light is uneven (a photo, a shadow) and the background is taken out first
BACKGROUND_SIDE = 64  # pixels: the size the background is estimated at


@dataclass(frozen=True)
class Preprocessed:
    """A 28x28 uint8 image (light ink on black) and what was done to get it."""

    pixels: np.ndarray
    inverted: bool
    blank: bool


def _border(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])


def _even_background(ink: np.ndarray) -> np.ndarray:
    """`ink` minus its slowly varying background (a gradient of light, a shadow): a grey
    opening, wider than any stroke, estimated on a copy of at most BACKGROUND_SIDE pixels."""
    height, width = ink.shape
    scale = min(1.0, BACKGROUND_SIDE / max(height, width))
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = Image.fromarray(ink.astype(np.float32)).resize(small_size, Image.Resampling.BILINEAR)
    window = max(3, min(small_size) // 4) | 1  # odd, as rank filters need
    opened = small.filter(ImageFilter.MinFilter(window)).filter(ImageFilter.MaxFilter(window))
    background = opened.resize((width, height), Image.Resampling.BILINEAR)
    even = Image.fromarray((ink - np.asarray(background, dtype=np.float64)).astype(np.float32))
    return np.asarray(even.filter(ImageFilter.MedianFilter(3)), dtype=np.float64)  # paper grain


def _stretched_ink(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """Ink in [0, 1] over a zero background; whether the image was inverted."""
    border = _border(gray)
    # Inverted when the paper is nearer the light end than the ink is: grey paper too.
    inverted = bool(np.median(border) > (gray.min() + gray.max()) / 2)
    ink = 1.0 - gray if inverted else gray
    spread = np.percentile(border, 90) - np.percentile(border, 10)
    if spread > UNEVEN_BORDER:  # uneven light: take the background out first
        ink = _even_background(ink)
    background = float(np.median(_border(ink)))
    span = float(ink.max()) - background
    if span <= 1e-6:
        return np.zeros_like(ink), inverted
    return np.clip((ink - background) / span, 0.0, 1.0), inverted


def _fit(ink: np.ndarray) -> np.ndarray:
    """The ink's bounding box, scaled so that its longer side is FIT pixels."""
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    columns = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    cropped = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    height, width = cropped.shape
    scale = FIT / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(cropped.astype(np.float32)).resize(
        size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR
    )
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)


def _centre_by_mass(fitted: np.ndarray) -> np.ndarray:
    canvas = np.zeros((SIZE, SIZE))
    height, width = fitted.shape
    top, left = (SIZE - height) // 2, (SIZE - width) // 2
    canvas[top : top + height, left : left + width] = fitted
    total = canvas.sum()
    rows, columns = np.indices(canvas.shape)
    shift_rows = round((SIZE - 1) / 2 - (rows * canvas).sum() / total)
    shift_columns = round((SIZE - 1) / 2 - (columns * canvas).sum() / total)
    # Never shift ink off the canvas: clamp to the free margin on each side.
    shift_rows = int(np.clip(shift_rows, -top, SIZE - top - height))
    shift_columns = int(np.clip(shift_columns, -left, SIZE - left - width))
    return np.roll(canvas, (shift_rows, shift_columns), axis=(0, 1))


def mnist_style(gray: np.ndarray) -> Preprocessed:
    """A grayscale image in [0, 1] (any size, either polarity) as a 28x28 MNIST-style digit."""
    ink, inverted = _stretched_ink(np.asarray(gray, dtype=np.float64))
    if not (ink > INK_THRESHOLD).any():
        return Preprocessed(np.zeros((SIZE, SIZE), np.uint8), inverted, blank=True)
    centred = _centre_by_mass(_fit(ink))
    return Preprocessed(np.rint(centred * 255).astype(np.uint8), inverted, blank=False)


def as_is(gray: np.ndarray) -> Preprocessed:
    """For images already in MNIST's form (28x28, light on dark): only scaled to 0..255.

    Raises:
        ValueError: for an image that is not 28x28.
    """
    if gray.shape != (SIZE, SIZE):
        raise ValueError(f"is {gray.shape[1]}x{gray.shape[0]}, not 28x28; preprocess it instead")
    return Preprocessed(np.rint(gray * 255).astype(np.uint8), inverted=False, blank=False)
