"""Prediction on users' image files: find them, decode and preprocess them in parallel, run
the model on batches, and yield one result per file (a bad file yields its reason instead)."""

from __future__ import annotations

import glob
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_exp.imaging.decode import IMAGE_SUFFIXES, MAX_PIXELS, ImageError, read_gray
from mnist_exp.imaging.preprocess import Preprocessed, as_is, mnist_style
from mnist_exp.machine import available_cores

BATCH = 256


@dataclass(frozen=True)
class ImageResult:
    path: str
    probabilities: np.ndarray | None = None
    preprocessed: Preprocessed | None = None
    error: str | None = None


def find_images(arguments: list[str]) -> tuple[list[Path], list[str]]:
    """Files, folders (searched recursively for image suffixes) and glob patterns, in the
    order given, each file once; and a message for each argument that matched nothing."""
    found: dict[Path, None] = {}
    unmatched = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            matches = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(argument):
            matches = sorted(
                Path(p) for p in glob.glob(argument, recursive=True) if Path(p).is_file()
            )
        else:
            matches = []
        if not matches:
            unmatched.append(f"{argument}: no such file, or no images in it")
        found.update(dict.fromkeys(matches))
    return list(found), unmatched


def prepare_image(path: Path, preprocess: bool = True, max_pixels: int = MAX_PIXELS):
    """(Preprocessed, None) for a usable image, (None, reason) for any other file."""
    try:
        gray = read_gray(path, max_pixels=max_pixels)
        return (mnist_style(gray) if preprocess else as_is(gray)), None
    except ImageError as error:
        return None, str(error)
    except ValueError as error:
        return None, f"{path}: {error}"


def default_threads() -> int:
    return max(1, available_cores() - 1)


def predict_images(
    predictor,
    paths: list[Path],
    *,
    preprocess: bool = True,
    max_pixels: int = MAX_PIXELS,
    batch_size: int = BATCH,
    threads: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[ImageResult]:
    """One ImageResult per path, in order.

    Batches are decoded on `threads` worker threads, each batch by one thread, a few batches
    ahead, while this thread runs the model on whole batches: decoding overlaps inference.
    The default leaves one core to the model (`default_threads`): more decoding threads than
    that contend with it and lose (tools/predict_bench.py measures both).

    Args:
        on_batch: called with the number of images done after each batch (progress).
    """
    threads = threads or default_threads()
    chunks = [paths[start : start + batch_size] for start in range(0, len(paths), batch_size)]

    def prepare_chunk(chunk):
        return [prepare_image(path, preprocess, max_pixels) for path in chunk]

    done = 0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        ahead = deque(pool.submit(prepare_chunk, chunk) for chunk in chunks[:threads])
        for index, chunk in enumerate(chunks):
            prepared = ahead.popleft().result()
            if index + threads < len(chunks):
                ahead.append(pool.submit(prepare_chunk, chunks[index + threads]))
            good = [image.pixels for image, error in prepared if error is None]
            probabilities = iter(predictor.predict(np.stack(good)) if good else [])
            for path, (image, error) in zip(chunk, prepared, strict=True):
                if error is not None:
                    yield ImageResult(str(path), error=error)
                else:
                    yield ImageResult(str(path), next(probabilities), image)
            done += len(chunk)
            if on_batch:
                on_batch(done)
