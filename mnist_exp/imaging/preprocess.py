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
STACK_PIXELS = 1 << 22  # pixels read at once by `mnist_style_many` (32 MB as float64)


@dataclass(frozen=True)
class Preprocessed:
    """An image as the model takes it (uint8: 28x28 light ink on black for the digit recipe,
    the run's size and channels for "as_is") and what was done to get it."""

    pixels: np.ndarray
    inverted: bool
    blank: bool


def _border(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])


def _borders(stack: np.ndarray) -> np.ndarray:
    """Each image's `_border`, as the rows of one array."""
    return np.concatenate([stack[:, 0], stack[:, -1], stack[:, 1:-1, 0], stack[:, 1:-1, -1]], 1)


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


def _coarse_boxes(stack, flip, background, span) -> list[tuple[slice, slice] | None]:
    """For each image of `stack` [n, h, w] (its levels as arrays of n): the rows and columns
    where its ink may be, found on the raw values a hair generously (None: no ink at all), so
    that only that box is ever stretched: a large image is never stretched whole."""
    level = background + INK_THRESHOLD * span
    margin = (1e-9 * np.maximum(1.0, np.abs(level)))[:, None, None]
    level = level[:, None, None]
    if flip.all():  # one comparison where the stack's images share a polarity (the usual)
        mask = stack < 1.0 - level + margin
    elif not flip.any():
        mask = stack > level - margin
    else:
        mask = np.where(flip[:, None, None], stack < 1.0 - level + margin, stack > level - margin)
    rows, columns = mask.any(axis=2), mask.any(axis=1)
    first_row, first_column = rows.argmax(axis=1), columns.argmax(axis=1)
    end_row = rows.shape[1] - rows[:, ::-1].argmax(axis=1)
    end_column = columns.shape[1] - columns[:, ::-1].argmax(axis=1)
    return [
        (slice(first_row[i], end_row[i]), slice(first_column[i], end_column[i]))
        if rows[i, first_row[i]]
        else None
        for i in range(len(stack))
    ]


def _box(mask: np.ndarray) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return None
    columns = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def _uneven_light(gray: np.ndarray) -> tuple[_Levels | None, bool]:
    """How the ink is read out of `gray` under uneven light: the background taken out first
    (None: no contrast at all); whether inverted."""
    inverted = _dark_ink_on_uneven_paper(gray)
    values = _even_background(1.0 - gray if inverted else gray)
    background = float(np.median(_border(values)))
    span = float(values.max()) - background
    return (_Levels(values, False, background, span) if span > 1e-6 else None), inverted


def _fit(cropped: np.ndarray) -> np.ndarray:
    """The ink's bounding box, scaled so that its longer side is FIT pixels."""
    height, width = cropped.shape
    if max(height, width) == FIT:  # fits already (MNIST's own form): PIL would only copy it
        return np.clip(cropped.astype(np.float32).astype(np.float64), 0.0, 1.0)
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
    top += min(max(round((SIZE - 1) / 2 - (top + mass_row)), -top), SIZE - top - height)
    left += min(max(round((SIZE - 1) / 2 - (left + mass_column)), -left), SIZE - left - width)
    canvas = np.zeros((SIZE, SIZE))
    canvas[top : top + height, left : left + width] = fitted
    return canvas


def _digit(levels: _Levels | None, coarse: tuple[slice, slice] | None, inverted: bool):
    """The 28x28 digit from an image's levels and the box its ink may be in."""
    exact = None
    if levels is not None and coarse is not None:
        stretched = levels.stretched(levels.values[coarse])
        exact = _box(stretched > INK_THRESHOLD)
    if exact is None:
        return Preprocessed(np.zeros((SIZE, SIZE), np.uint8), inverted, blank=True)
    centred = _centre_by_mass(_fit(stretched[exact]))
    return Preprocessed(np.rint(centred * 255).astype(np.uint8), inverted, blank=False)


def _one_uneven(gray: np.ndarray) -> Preprocessed:
    levels, inverted = _uneven_light(gray)
    if levels is None:
        return _digit(None, None, inverted)
    as_arrays = np.zeros(1, bool), np.array([levels.background]), np.array([levels.span])
    (coarse,) = _coarse_boxes(levels.values[np.newaxis], *as_arrays)
    return _digit(levels, coarse, inverted)


def _read_stack(stack: np.ndarray) -> list[Preprocessed]:
    """Each image of `stack` [n, h, w]: levels and ink boxes found for all at once (vectorised
    over the stack, the same arithmetic per image), then each digit cut, fitted and centred."""
    low, paper, high = np.percentile(_borders(stack), [10, 50, 90], axis=1)
    uneven = high - low > UNEVEN_BORDER  # uneven light: the background goes first
    if uneven.all():  # nothing to read together (a photo, alone in its stack)
        return [_one_uneven(gray) for gray in stack]
    darkest, lightest = stack.min(axis=(1, 2)), stack.max(axis=(1, 2))
    # Inverted when the paper is nearer the light end than the ink is: grey paper too.
    inverted = paper > (darkest + lightest) / 2
    background = np.where(inverted, 1.0 - paper, paper)
    span = np.where(inverted, 1.0 - darkest, lightest) - background
    coarse = _coarse_boxes(stack, inverted, background, span)
    results = []
    for index, gray in enumerate(stack):
        if uneven[index]:
            results.append(_one_uneven(gray))
            continue
        flip, levels = bool(inverted[index]), None
        if span[index] > 1e-6:
            levels = _Levels(gray, flip, float(background[index]), float(span[index]))
        results.append(_digit(levels, coarse[index], flip))
    return results


def _stacks(grays: list[np.ndarray]) -> list[list[int]]:
    """The images' indices in groups of one shape, each group at most STACK_PIXELS in all (a
    larger image alone)."""
    by_shape: dict[tuple[int, ...], list[list[int]]] = {}
    for index, gray in enumerate(grays):
        groups = by_shape.setdefault(gray.shape, [[]])
        if groups[-1] and (len(groups[-1]) + 1) * gray.size > STACK_PIXELS:
            groups.append([])
        groups[-1].append(index)
    return [group for groups in by_shape.values() for group in groups]


def _stacked(grays: list[np.ndarray], indices: list[int]) -> np.ndarray:
    """The images at `indices` as one array [n, h, w]; one image as a view, not a copy."""
    if len(indices) == 1:
        return grays[indices[0]][np.newaxis]
    return np.stack([grays[index] for index in indices])


def mnist_style_many(grays) -> list[Preprocessed]:
    """`mnist_style` for many images: those of one shape are read together as a stack (a
    folder of scans costs little Python per image); each result is the image's own."""
    grays = [np.asarray(gray, dtype=np.float64) for gray in grays]
    results: list[Preprocessed | None] = [None] * len(grays)
    for indices in _stacks(grays):
        for index, result in zip(indices, _read_stack(_stacked(grays, indices)), strict=True):
            results[index] = result
    return results


def mnist_style(gray: np.ndarray) -> Preprocessed:
    """A grayscale image in [0, 1] (any size, either polarity) as a 28x28 MNIST-style digit."""
    return mnist_style_many([gray])[0]


def as_is(gray: np.ndarray) -> Preprocessed:
    """For images already in MNIST's form (28x28, light on dark): only scaled to 0..255.

    Raises:
        ValueError: for an image that is not 28x28.
    """
    if gray.shape != (SIZE, SIZE):
        raise ValueError(f"is {gray.shape[1]}x{gray.shape[0]}, not 28x28; preprocess it instead")
    return Preprocessed(np.rint(gray * 255).astype(np.uint8), inverted=False, blank=False)
