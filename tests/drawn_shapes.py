"""Ten shapes drawn with PIL (a ring, a bar, a cross, ...) as users draw digits: the tests'
own labelled images, and a model trained on them by the real runner, so that the labels of
drawn images are known."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from mnist_exp.imaging.preprocess import mnist_style


def draw_shape(label: int, draw: ImageDraw.ImageDraw, box, width: int, ink) -> None:
    """Shape `label` (0-9) inside `box` = (left, top, right, bottom)."""
    left, top, right, bottom = box
    middle_x, middle_y = (left + right) / 2, (top + bottom) / 2
    triangle = [(middle_x, top), (right, bottom), (left, bottom)]
    shapes = {
        0: lambda: draw.ellipse(box, outline=ink, width=width),
        1: lambda: draw.line([(middle_x, top), (middle_x, bottom)], fill=ink, width=width),
        2: lambda: draw.line([(left, middle_y), (right, middle_y)], fill=ink, width=width),
        3: lambda: (
            draw.line([(middle_x, top), (middle_x, bottom)], fill=ink, width=width),
            draw.line([(left, middle_y), (right, middle_y)], fill=ink, width=width),
        ),
        4: lambda: (
            draw.line([(left, top), (right, bottom)], fill=ink, width=width),
            draw.line([(left, bottom), (right, top)], fill=ink, width=width),
        ),
        5: lambda: draw.polygon(triangle, outline=ink, width=width),
        6: lambda: draw.rectangle(box, outline=ink, width=width),
        7: lambda: draw.line([(left, top), (left, bottom), (right, bottom)], fill=ink, width=width),
        8: lambda: draw.line([(left, top), (right, top), (right, bottom)], fill=ink, width=width),
        9: lambda: draw.ellipse(box, fill=ink),
    }  # fmt: skip
    shapes[label]()


def drawn(label: int, rng, canvas=(200, 200), light_background=True, mode="L") -> Image.Image:
    """A user-like drawing: shape `label` of random size, place and stroke on a canvas."""
    background, ink = (255, 0) if light_background else (0, 255)
    image = Image.new("L", canvas, background)
    width, height = canvas
    size = int(rng.integers(min(canvas) // 4, min(canvas) // 2))
    left = int(rng.integers(0, width - size))
    top = int(rng.integers(0, height - size))
    box = (left, top, left + size, top + size)
    draw_shape(label, ImageDraw.Draw(image), box, max(2, size // 10), ink)
    return image if mode == "L" else image.convert(mode)


def shapes_dataset(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = [
        mnist_style(np.asarray(drawn(int(label), rng, light_background=bool(i % 2))) / 255.0).pixels
        for i, label in enumerate(labels)
    ]  # fmt: skip
    return np.stack(images), labels.astype(np.uint8)
