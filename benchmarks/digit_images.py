"""Image files to try prediction on, as users would make them:

- `mnist_test_pngs`: MNIST's test set written out as 10,000 PNGs (`NNNNN_LABEL.png`);
- `user_like_digits`: digits drawn with pen strokes (jittered, of random width) and rendered
  in every TrueType font found, on light and dark backgrounds, at random sizes and places on
  canvases of random size (`LABEL_STYLE_NNNN.png`).

The label is the part of the name after the first (MNIST) or before the first (drawn) `_`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_FOLDERS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))


def _arc(cx, cy, rx, ry, start=0.0, end=360.0, points=24):
    angles = np.radians(np.linspace(start, end, points))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


# Each digit as pen strokes in a unit box (x right, y down), the way people write them.
STROKES = {
    0: [_arc(0.5, 0.5, 0.4, 0.5)],
    1: [[(0.3, 0.2), (0.55, 0.0), (0.55, 1.0)]],
    2: [[*_arc(0.5, 0.3, 0.38, 0.3, 200, 360), (0.8, 0.45), (0.1, 1.0), (0.95, 1.0)]],
    3: [_arc(0.48, 0.27, 0.37, 0.27, 200, 450), _arc(0.48, 0.73, 0.42, 0.27, 270, 520)],
    4: [[(0.65, 1.0), (0.65, 0.0), (0.05, 0.68), (0.95, 0.68)]],
    5: [[(0.88, 0.0), (0.22, 0.0), (0.17, 0.45)], _arc(0.5, 0.68, 0.4, 0.32, 220, 500)],
    6: [[(0.75, 0.0), (0.32, 0.4), (0.15, 0.72)], _arc(0.5, 0.72, 0.36, 0.28)],
    7: [[(0.05, 0.0), (0.95, 0.0), (0.4, 1.0)]],
    8: [_arc(0.5, 0.26, 0.3, 0.25), _arc(0.5, 0.73, 0.38, 0.27)],
    9: [_arc(0.5, 0.3, 0.36, 0.3), [(0.86, 0.3), (0.75, 1.0)]],
}


def mnist_test_pngs(images: np.ndarray, labels: np.ndarray, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        path = folder / f"{index:05d}_{int(label)}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def find_fonts() -> list[Path]:
    fonts = []
    for folder in FONT_FOLDERS:
        if folder.is_dir():
            fonts += sorted(folder.rglob("*.ttf"))
    return [font for font in fonts if "Math" not in font.name]


def _canvas(rng) -> tuple[Image.Image, int, int, bool]:
    width, height = (int(v) for v in rng.integers(96, 480, size=2))
    light = bool(rng.random() < 0.5)
    background = int(rng.integers(200, 256)) if light else int(rng.integers(0, 56))
    ink = int(rng.integers(0, 60)) if light else int(rng.integers(196, 256))
    image = Image.new("L", (width, height), background)
    return image, ink, min(width, height), light


def drawn_digit(label: int, rng) -> tuple[Image.Image, bool]:
    image, ink, side, light = _canvas(rng)
    height = side * rng.uniform(0.3, 0.8)
    width = height * rng.uniform(0.45, 0.75)
    left = rng.uniform(0, image.width - width)
    top = rng.uniform(0, image.height - height)
    slant = rng.uniform(-0.25, 0.1)
    stroke = max(2, int(height * rng.uniform(0.06, 0.14)))
    draw = ImageDraw.Draw(image)
    for points in STROKES[label]:
        jittered = [
            (
                left + (x + slant * (1 - y) + rng.normal(0, 0.02)) * width,
                top + (y + rng.normal(0, 0.02)) * height,
            )
            for x, y in points
        ]
        draw.line(jittered, fill=ink, width=stroke, joint="curve")
    return image, light


def rendered_digit(label: int, font_path: Path, rng) -> tuple[Image.Image, bool]:
    image, ink, side, light = _canvas(rng)
    size = int(side * rng.uniform(0.3, 0.8))
    font = ImageFont.truetype(str(font_path), size)
    left, top, right, bottom = font.getbbox(str(label))
    x = rng.uniform(0, max(1, image.width - (right - left))) - left
    y = rng.uniform(0, max(1, image.height - (bottom - top))) - top
    ImageDraw.Draw(image).text((x, y), str(label), font=font, fill=ink)
    angle = rng.uniform(-10, 10)
    background = image.getpixel((0, 0))
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=background), light


def user_like_digits(folder: Path, per_style: int = 10, seed: int = 0) -> list[Path]:
    """Writes `per_style` images of each digit for pen strokes and for each font found."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    makers = [("pen", lambda label: drawn_digit(label, rng))]
    makers += [
        (font.stem, lambda label, font=font: rendered_digit(label, font, rng))
        for font in find_fonts()
    ]
    paths = []
    for style, make in makers:
        for label in range(10):
            for index in range(per_style):
                image, light = make(label)
                shade = "light" if light else "dark"
                path = folder / f"{label}_{style}_{shade}_{index:03d}.png"
                image.save(path)
                paths.append(path)
    return paths
