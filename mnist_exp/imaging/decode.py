"""Opening users' image files: PNG, JPEG, BMP, GIF, WebP, TIFF; any mode (RGB, RGBA, palette,
16-bit, ...), any size up to a pixel limit, turned upright by their EXIF orientation (phone
photos); as grayscale floats in [0, 1]."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mnist_exp.errors import MnistExpError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# 40 megapixels: a 6000x6000 photo passes; a decompression bomb (a tiny file that decodes to
# gigabytes) is refused from its header, before any pixel is decoded.
MAX_PIXELS = 40_000_000
# Larger images are box-reduced to about this side before they become floats: the recipe
# ends at 20x20, and a 25-megapixel photo as float64 would take 200 MB.
WORKING_SIDE = 1024
_UNIT_LEVELS = np.arange(256) / 255.0  # 8-bit levels as floats: a lookup, not a division


class ImageError(MnistExpError):
    """An image that cannot be used: unreadable, truncated, not an image, or too large."""


class ImageTooLarge(ImageError):
    """An image over the pixel limit (or a decompression bomb), refused before decoding."""


def _open(source: Path | bytes, name: str, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    except Image.DecompressionBombError as error:  # PIL's own limit, checked at open
        raise ImageTooLarge(f"{name}: refused as a decompression bomb ({error}).") from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name}: not an image file PIL can read (or an unsupported format)."
        ) from None
    except OSError as error:
        raise ImageError(f"{name}: cannot be read ({error}).") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"{name}: {width}x{height} pixels is over the limit of {max_pixels:,}; refusing to "
            "decode it. Scale it down first."
        )
    return image


def as_gray(image: Image.Image) -> np.ndarray:
    """Grayscale in [0, 1]: transparent pixels composited on white, 16-bit kept exact."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image, dtype=np.float64) / 65535.0
    if image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max() > 255 else 255.0
        return np.clip(values / top, 0.0, 1.0)
    if image.mode == "P" or "A" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return _UNIT_LEVELS.take(np.asarray(image if image.mode == "L" else image.convert("L")))


def pixel_count(source: Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS):
    """Width x height from the file's header alone (nothing decoded).

    Raises:
        ImageError: as `read_gray` does for a file that is not an image or is too large.
    """
    image = _open(source, name or str(source), max_pixels)
    with image:
        return image.size[0] * image.size[1]


def _reduced(image: Image.Image) -> Image.Image:
    factor = -(-max(image.size) // WORKING_SIDE)
    if factor <= 1:
        return image
    if image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK"):
        image = image.convert("RGBA" if image.mode == "P" or "transparency" in image.info else "I")
    return image.reduce(factor)


def read_gray(source: Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS):
    """An image file (a path or its bytes) as a 2-D float array in [0, 1] (first frame of an
    animation), upright by its EXIF orientation, box-reduced when larger than WORKING_SIDE.

    Raises:
        ImageError: naming the file and the reason (not an image, truncated, too large).
    """
    name = name or str(source)
    image = _open(source, name, max_pixels)
    try:
        image.seek(0)
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        return as_gray(_reduced(image))
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        reason = "truncated" if "truncated" in str(error) else str(error)
        raise ImageError(f"{name}: cannot be decoded ({reason}).") from None
    finally:
        image.close()
