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
POLARITY_SIDE = 24  # pixels: the size the ink's polarity is judged at, under uneven light


@dataclass(frozen=True)
class Preprocessed:
    """A 28x28 uint8 image (light ink on black) and what was done to get it."""

    pixels: np.ndarray
    inverted: bool
    blank: bool


def _border(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])


def _size_within(shape: tuple[int, int], side: int) -> tuple[int, int]:
    """PIL's (width, height) for an image of `shape` scaled down to at most `side` a side."""
    height, width = shape
    scale = min(1.0, side / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _even_background(ink: np.ndarray) -> np.ndarray:
    """`ink` minus its slowly varying background (a gradient of light, a shadow): a grey
    opening, wider than any stroke, estimated on a copy of at most BACKGROUND_SIDE pixels."""
    height, width = ink.shape
    small_size = _size_within(ink.shape, BACKGROUND_SIDE)
    small = Image.fromarray(ink.astype(np.float32)).resize(small_size, Image.Resampling.BILINEAR)
    window = max(3, min(small_size) // 4) | 1  # odd, as rank filters need
    opened = small.filter(ImageFilter.MinFilter(window)).filter(ImageFilter.MaxFilter(window))
    background = opened.resize((width, height), Image.Resampling.BILINEAR)
    even = Image.fromarray((ink - np.asarray(background, dtype=np.float64)).astype(np.float32))
    return np.asarray(even.filter(ImageFilter.MedianFilter(3)), dtype=np.float64)  # paper grain


def _dark_ink_on_uneven_paper(gray: np.ndarray) -> bool:
    """Whether the ink is darker than the paper, where the light is uneven: the border says
    nothing then (a shadow can darken most of it). Ink is thin, so a median over a window half
    the image wide follows the paper alone; what is left has its long tail on the ink's side."""
    small_size = _size_within(gray.shape, POLARITY_SIDE)
    small = Image.fromarray(np.rint(gray * 255).astype(np.uint8)).resize(
        small_size, Image.Resampling.BILINEAR
    )
    window = max(3, min(small_size) // 2) | 1
    paper = small.filter(ImageFilter.MedianFilter(window))
    left = np.asarray(small, np.int16) - np.asarray(paper, np.int16)
    darkest, lightest = np.percentile(left, [1, 99])
    return bool(-darkest > lightest)


@dataclass(frozen=True)
class _Levels:
    """Where the ink is in `values` and how to stretch it: ink = 1 - values when `flip`, then
    (ink - background) / span, clipped to [0, 1]."""

    values: np.ndarray
    flip: bool
    background: float
    span: float

    def stretched(self, part: np.ndarray) -> np.ndarray:
        ink = 1.0 - part if self.flip else part
        return np.clip((ink - self.background) / self.span, 0.0, 1.0)

    def ink_box(self) -> tuple[slice, slice] | None:
        """The rows and columns holding ink (stretched above INK_THRESHOLD), or None. Found
        on the raw values, a hair generously, then exactly on that box alone: a large image
        is never stretched whole."""
        level = self.background + INK_THRESHOLD * self.span
        margin = 1e-9 * max(1.0, abs(level))
        if self.flip:
            box = _box(self.values < 1.0 - level + margin)
        else:
            box = _box(self.values > level - margin)
        if box is None:
            return None
        exact = _box(self.stretched(self.values[box]) > INK_THRESHOLD)
        if exact is None:
            return None
        (rows, columns), (inner_rows, inner_columns) = box, exact
        return (
            slice(rows.start + inner_rows.start, rows.start + inner_rows.stop),
            slice(columns.start + inner_columns.start, columns.start + inner_columns.stop),
        )


def _box(mask: np.ndarray) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return None
    columns = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def _levels(gray: np.ndarray) -> tuple[_Levels | None, bool]:
    """How the ink is read out of `gray` (None: no contrast at all); whether inverted."""
    low, paper, high = np.percentile(_border(gray), [10, 50, 90])
    if high - low > UNEVEN_BORDER:  # uneven light: take the background out first
        inverted = _dark_ink_on_uneven_paper(gray)
        values, flip = _even_background(1.0 - gray if inverted else gray), False
        background, top = float(np.median(_border(values))), float(values.max())
    else:
        darkest, lightest = float(gray.min()), float(gray.max())
        # Inverted when the paper is nearer the light end than the ink is: grey paper too.
        inverted = bool(paper > (darkest + lightest) / 2)
        values, flip = gray, inverted
        background = float(1.0 - paper if inverted else paper)
        top = 1.0 - darkest if inverted else lightest
    span = top - background
    if span <= 1e-6:
        return None, inverted
    return _Levels(values, flip, background, span), inverted


def _fit(cropped: np.ndarray) -> np.ndarray:
    """The ink's bounding box, scaled so that its longer side is FIT pixels."""
    height, width = cropped.shape
    scale = FIT / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(cropped.astype(np.float32)).resize(
        size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR
    )
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)


def _centre_by_mass(fitted: np.ndarray) -> np.ndarray:
    """`fitted` placed in SIZE x SIZE with its centre of mass at the centre, as far as its
    free margins allow (ink is never shifted off the canvas)."""
    height, width = fitted.shape
    total = fitted.sum()
    mass_row = np.arange(height) @ fitted.sum(axis=1) / total
    mass_column = np.arange(width) @ fitted.sum(axis=0) / total
    top, left = (SIZE - height) // 2, (SIZE - width) // 2  # centred by size, then moved
    top += int(np.clip(round((SIZE - 1) / 2 - (top + mass_row)), -top, SIZE - top - height))
    left += int(np.clip(round((SIZE - 1) / 2 - (left + mass_column)), -left, SIZE - left - width))
    canvas = np.zeros((SIZE, SIZE))
    canvas[top : top + height, left : left + width] = fitted
    return canvas


def mnist_style(gray: np.ndarray) -> Preprocessed:
    """A grayscale image in [0, 1] (any size, either polarity) as a 28x28 MNIST-style digit."""
    levels, inverted = _levels(np.asarray(gray, dtype=np.float64))
    box = levels.ink_box() if levels is not None else None
    if box is None:
        return Preprocessed(np.zeros((SIZE, SIZE), np.uint8), inverted, blank=True)
    centred = _centre_by_mass(_fit(levels.stretched(levels.values[box])))
    return Preprocessed(np.rint(centred * 255).astype(np.uint8), inverted, blank=False)


def as_is(gray: np.ndarray) -> Preprocessed:
    """For images already in MNIST's form (28x28, light on dark): only scaled to 0..255.

    Raises:
        ValueError: for an image that is not 28x28.
    """
    if gray.shape != (SIZE, SIZE):
        raise ValueError(f"is {gray.shape[1]}x{gray.shape[0]}, not 28x28; preprocess it instead")
    return Preprocessed(np.rint(gray * 255).astype(np.uint8), inverted=False, blank=False)
