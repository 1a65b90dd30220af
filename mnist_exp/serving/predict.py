"""Prediction on users' image files: find them, decode and preprocess them in parallel, run
the model on batches, and yield one result per file (a bad file yields its reason instead)."""

from __future__ import annotations

import glob
import os
import stat
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_exp.imaging.decode import IMAGE_SUFFIXES, MAX_PIXELS
from mnist_exp.imaging.files import prepare_images
from mnist_exp.imaging.preprocess import Preprocessed
from mnist_exp.machine import all_cores_but_one, available_cores
from mnist_exp.safe_files import entries_below
from mnist_exp.text import printable

# Images decoded and predicted together: about 1.2x the images/s of 256 over 10,000 PNGs on 2
# cores (experiments/README.md), the model's runtime woken a quarter as often.
BATCH = 1024
AHEAD = 2  # batches queued per decoding thread: one always waits while the model runs


@dataclass(frozen=True)
class ImageResult:
    """One file's result: probabilities, or none for a blank image, or the reason it failed."""

    path: str
    probabilities: np.ndarray | None = None
    preprocessed: Preprocessed | None = None
    error: str | None = None

    @property
    def blank(self) -> bool:
        return self.preprocessed is not None and self.preprocessed.blank


def _not_a_file(path: Path) -> str | None:
    """Why `path` cannot be read as an image file (None for a regular file or a folder)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if path.is_symlink() else None
    except OSError as error:
        return f"cannot be read ({error.strerror or error}; a symbolic link loop?)"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file (a device or socket)"


def _images_under(folder: Path) -> list[os.DirEntry]:
    """Entries with an image suffix anywhere under `folder`, links to folders not followed (as
    `Path.rglob`), sorted as their paths sort. A directory entry knows whether it is a regular
    file without another system call."""
    found = [
        entry
        for entry in entries_below(folder)
        if not entry.is_dir(follow_symlinks=False)
        and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES
    ]
    return sorted(found, key=lambda entry: entry.path.split(os.sep))


def _regular_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:  # a link loop: named by _not_a_file
        return False


def find_images(arguments: list[str]) -> tuple[list[Path], list[str]]:
    """Files, folders (searched recursively for image suffixes) and glob patterns, in the
    order given, each file once; and a message for each argument that matched nothing and
    each candidate that is no regular file (FIFOs, devices, broken or looping links)."""
    found: dict[Path, None] = {}
    problems = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            candidates = _images_under(path)
        elif glob.has_magic(argument) and not path.exists():
            candidates = sorted(Path(p) for p in glob.glob(argument, recursive=True))
        else:
            candidates = [path]
        matches, reported = [], len(problems)
        for candidate in candidates:
            if isinstance(candidate, os.DirEntry) and _regular_file(candidate):
                matches.append(Path(candidate.path))
                continue
            candidate = Path(candidate)
            reason = _not_a_file(candidate)
            if reason is not None:
                problems.append(f"{printable(candidate)}: {reason}; skipped")
            elif candidate.is_file():
                matches.append(candidate)
        if not matches and len(problems) == reported:
            problems.append(f"{printable(argument)}: no such file, or no images in it")
        found.update(dict.fromkeys(matches))
    return list(found), problems


def model_threads(model: str | Path, decoding_threads: int | None = None) -> int:
    """Threads for the runtime of `model` beside `decoding_threads` (None: `predict_images`'
    default). All cores: TensorFlow's and ONNX Runtime's threads sleep while decoding has the
    CPU. LiteRT's spin while they wait, so a .tflite gets only the cores decoding leaves
    (7,435 against 5,207 images/s with an int8 model over 30,000 PNGs on 2 cores)."""
    if Path(model).suffix.lower() == ".tflite":
        return max(1, available_cores() - (decoding_threads or all_cores_but_one()))
    return available_cores()


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
    The default leaves one core to the model (`all_cores_but_one`): more decoding threads than
    that contend with it and lose (benchmarks/predict_bench.py measures both).

    Args:
        on_batch: called with the number of images done after each batch (progress).
    """
    threads = threads or all_cores_but_one()
    chunks = [paths[start : start + batch_size] for start in range(0, len(paths), batch_size)]

    def prepare_chunk(chunk):
        return prepare_images(chunk, preprocess, max_pixels, predictor.facts.input)

    done = 0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        depth = AHEAD * threads
        ahead = deque(pool.submit(prepare_chunk, chunk) for chunk in chunks[:depth])
        for index, chunk in enumerate(chunks):
            prepared = ahead.popleft().result()
            if index + depth < len(chunks):
                ahead.append(pool.submit(prepare_chunk, chunks[index + depth]))
            inked = [image.pixels for image, error in prepared if error is None and not image.blank]
            probabilities = iter(predictor.predict(np.stack(inked)) if inked else [])
            for path, (image, error) in zip(chunk, prepared, strict=True):
                if error is not None:
                    yield ImageResult(str(path), error=error)
                elif image.blank:
                    yield ImageResult(str(path), preprocessed=image)
                else:
                    yield ImageResult(str(path), next(probabilities), image)
            done += len(chunk)
            if on_batch:
                on_batch(done)
