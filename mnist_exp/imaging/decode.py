"""Opening users' image files: PNG, JPEG, BMP, GIF, WebP, TIFF; any mode (RGB, RGBA, palette,
16-bit, ...), any size up to a pixel limit, turned upright by their EXIF orientation (phone
photos); as grayscale floats in [0, 1] (the digit recipe's input) or as uint8 pixels of a
given size, grey or RGB (`read_pixels`, the "as_is" recipe).

Every file is hostile until its header says otherwise: only the decoders in DECODERS are
tried (Pillow decodes an ICO's or ICNS's embedded PNG inside `Image.open`, whatever size the
icon declares, so icons and every other format are never opened), the declared size and the
extent of every tile of the frame to be decoded are checked against the pixel limit before a
pixel is decoded (a GIF frame may be larger than its screen), and whatever a decoder raises
becomes one ImageError naming the file."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mnist_exp.errors import MnistExpError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# Pillow's names for the decoders of IMAGE_SUFFIXES. The many others it has (ICO, ICNS, QOI,
# AVIF, PSD, EPS via Ghostscript, ...) are nothing users' digits come in, and each is more
# code that a hostile file can reach.
DECODERS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
# Larger files are refused from their size alone, before they are read or hashed: a 40 MP
# image is at most ~120 MB uncompressed, and a sparse file can claim gigabytes for free.
MAX_FILE_BYTES = 128 * 2**20
# 40 megapixels: a 6000x6000 photo passes; a decompression bomb (a tiny file that decodes to
# gigabytes) is refused from its header, before any pixel is decoded.
MAX_PIXELS = 40_000_000
# Larger images are box-reduced to about this side before they become floats: the recipe
# ends at 20x20, and a 25-megapixel photo as float64 would take 200 MB.
WORKING_SIDE = 1024
ORIENTATION_TAG = 0x0112  # EXIF orientations 5-8 turn the image a quarter: width and height swap
QUARTER_TURNS = (5, 6, 7, 8)
_UNIT_LEVELS = np.arange(256) / 255.0  # 8-bit levels as floats: a lookup, not a division
# Pillow warns of images over its own limit (89 MP) as it opens them; the pixel limit here
# refuses them with a message of its own, so the warning would only add a line of noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageError(MnistExpError):
    """An image that cannot be used: unreadable, truncated, not an image, or too large."""


class ImageTooLarge(ImageError):
    """An image over the pixel limit (or a decompression bomb), refused before decoding."""


def check_file_size(path: Path, name: str | None = None) -> None:
    """Raises ImageTooLarge for a file over MAX_FILE_BYTES (from its size alone)."""
    size = Path(path).stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImageTooLarge(
            f"{name or path}: {size:,} bytes is over the limit of {MAX_FILE_BYTES:,} per image "
            "file; it was not read."
        )


def _declared_pixels(image: Image.Image) -> int:
    """The most pixels decoding the current frame can allocate: its size, or the farthest
    corner any of its tiles reaches when that is larger."""
    width, height = image.size
    for tile in image.tile or ():
        box = tile[1]
        if box is not None:
            width, height = max(width, box[2]), max(height, box[3])
    return width * height


def _open(source: Path | bytes, name: str, max_pixels: int) -> Image.Image:
    try:
        if isinstance(source, bytes):
            image = Image.open(io.BytesIO(source), formats=DECODERS)
        else:
            check_file_size(source, name)
            image = Image.open(source, formats=DECODERS)
    except ImageError:
        raise
    except Image.DecompressionBombError as error:  # PIL's own limit, checked at open
        raise ImageTooLarge(f"{name}: refused as a decompression bomb ({error}).") from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name}: not an image file in a format read here ({', '.join(DECODERS)})."
        ) from None
    except Exception as error:  # as in read_gray: a decoder's error is this image's
        raise ImageError(f"{name}: cannot be read ({_reason(error)}).") from None
    pixels = _declared_pixels(image)
    if pixels > max_pixels:
        width, height = image.size
        shown = f"{width}x{height} pixels" if pixels == width * height else f"{pixels:,} pixels"
        image.close()
        raise ImageTooLarge(
            f"{name}: {shown} is over the limit of {max_pixels:,}; refusing to decode it. "
            "Scale it down first."
        )
    return image


def _reason(error: BaseException) -> str:
    text = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    return "truncated" if "truncated" in text else text


def as_gray(image: Image.Image) -> np.ndarray:
    """Grayscale in [0, 1]: transparent pixels composited on white, 16-bit kept exact."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image, dtype=np.float64) / 65535.0
    if image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max() > 255 else 255.0
        return np.clip(values / top, 0.0, 1.0)
    return _UNIT_LEVELS.take(np.asarray(as_mode(image, "L")))


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
    return _read(source, name or str(source), max_pixels, lambda image: as_gray(_reduced(image)))


def read_pixels(
    source: Path | bytes,
    size: tuple[int, int],
    channels: int,
    name: str | None = None,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """An image file as uint8 pixels (height, width) for `channels` 1 or (height, width, 3),
    upright, scaled to `size` (height, width) keeping its aspect ratio (the longer side
    centre-cropped, as Keras' `crop_to_aspect_ratio`), bilinear; transparency composited on
    white, 16-bit levels scaled to 8.

    Raises:
        ImageError: as `read_gray` does.
    """

    def convert(image: Image.Image) -> np.ndarray:
        image = as_mode(_reduced(image), "L" if channels == 1 else "RGB")
        height, width = size
        if image.size != (width, height):
            image = ImageOps.fit(image, (width, height), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)

    return _read(source, name or str(source), max_pixels, convert)


def as_mode(image: Image.Image, mode: str) -> Image.Image:
    """`image` in Pillow's "L" or "RGB": transparency on white, 16-bit and float levels
    scaled to 8 bits as `as_gray` scales them."""
    if image.mode.startswith("I") or image.mode == "F":
        gray = np.rint(as_gray(image) * 255).astype(np.uint8)
        return Image.fromarray(gray).convert(mode)
    if image.mode == "P" or "A" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image if image.mode == mode else image.convert(mode)


def image_header(source: Path, name: str | None = None, max_pixels: int = MAX_PIXELS):
    """(width, height, colour) from the file's header alone: `colour` is False for grey
    modes and for a palette of greys.

    Raises:
        ImageError: as `read_gray` does for a file that is not an image or is too large.
    """
    image = _open(source, name or str(source), max_pixels)
    with image:
        colour = image.mode not in ("1", "L", "LA", "La", "I", "F") and not image.mode.startswith(
            "I;"
        )
        if image.mode == "P":
            palette = np.asarray(image.getpalette() or [0, 0, 0], np.int32).reshape(-1, 3)
            colour = bool((palette != palette[:, :1]).any())
        width, height = image.size
        if _orientation(image) in QUARTER_TURNS:
            width, height = height, width
        return width, height, colour


def _orientation(image: Image.Image) -> int | None:
    """The EXIF orientation from the header: a PNG's `getexif()` decodes the whole image to
    look for an eXIf chunk after the pixels, so a PNG's is read only from before them."""
    if image.format != "PNG":
        return image.getexif().get(ORIENTATION_TAG)
    exif = Image.Exif()
    if raw := image.info.get("exif"):
        exif.load(raw)
    return exif.get(ORIENTATION_TAG)


def _read(source: Path | bytes, name: str, max_pixels: int, convert):
    image = _open(source, name, max_pixels)
    try:
        image.seek(0)
        if _declared_pixels(image) > max_pixels:  # seeking re-reads the frame's tiles
            raise ImageTooLarge(f"{name}: its first frame is over the limit of {max_pixels:,}.")
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        return convert(image)
    except ImageError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageTooLarge(f"{name}: refused as a decompression bomb ({error}).") from None
    except Exception as error:
        # A PNG's text chunk that inflates past Pillow's limit raises ValueError, truncated
        # data OSError or EOFError, a malformed header struct.error or IndexError, ...:
        # whatever a decoder raises, the file is that image's error, never the caller's.
        raise ImageError(f"{name}: cannot be decoded ({_reason(error)}).") from None
    finally:
        image.close()
