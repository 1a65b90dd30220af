"""Writes 60 colour images per class into my_colours/CLASS/*.png (red, green, blue blobs of
random shape on light backgrounds, 48x48 and some 64x40), to try a folder of colour images
as they are: python write_colours.py"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 60, 200)}
rng = np.random.default_rng(0)
for name, colour in COLOURS.items():
    folder = Path("my_colours") / name
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(60):
        width, height = (64, 40) if index % 4 == 0 else (48, 48)
        image = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(200, 256, 3)))
        left, top = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
        right = left + int(rng.integers(10, width // 2))
        bottom = top + int(rng.integers(10, height // 2))
        fill = tuple(
            int(np.clip(c + j, 0, 255))
            for c, j in zip(colour, rng.integers(-30, 31, 3), strict=True)
        )
        draw = ImageDraw.Draw(image)
        (draw.ellipse if index % 2 else draw.rectangle)((left, top, right, bottom), fill=fill)
        image.save(folder / f"{index}.png")
