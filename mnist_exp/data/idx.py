"""Reader for the IDX format that MNIST and Fashion-MNIST are distributed in."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from mnist_exp.errors import DataError

_UBYTE_TYPE_CODE = 0x08


def read_idx(path: Path) -> np.ndarray:
    """Reads an unsigned-byte IDX file, gzipped (`.gz`) or not.

    Returns:
        A uint8 array whose shape is the one the file's header declares.

    Raises:
        DataError: if the file is missing, truncated, too long or not an IDX file.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError) as error:
        raise DataError(f"Cannot read IDX file {path}: {error}") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE_TYPE_CODE:
        raise DataError(f"{path} is not an unsigned-byte IDX file (bad magic number).")
    num_dims = raw[3]
    header_size = 4 + 4 * num_dims
    if len(raw) < header_size:
        raise DataError(f"{path} is truncated: its header is incomplete.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(num_dims))
    expected_size = header_size + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected_size:
        state = "truncated" if len(raw) < expected_size else "longer than its header says"
        raise DataError(
            f"{path} is {state}: {len(raw)} bytes, header of shape {shape} needs "
            f"{expected_size}. Replace the file with an intact copy."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


IDX_FILE_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def find_idx_files(folder: Path) -> dict[str, Path] | None:
    """Finds the four standard IDX files in `folder`, gzipped or not.

    Returns:
        A mapping from x_train/y_train/x_test/y_test to paths, or None if any is absent.
    """
    found = {}
    for key, stem in IDX_FILE_STEMS.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        existing = [candidate for candidate in candidates if candidate.is_file()]
        if not existing:
            return None
        found[key] = existing[0]
    return found


def read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    """Reads the four standard IDX files from `folder`.

    Raises:
        DataError: if a file is missing or unreadable.
    """
    files = find_idx_files(folder)
    if files is None:
        names = ", ".join(f"{stem}[.gz]" for stem in IDX_FILE_STEMS.values())
        raise DataError(f"{folder} does not contain the four IDX files ({names}).")
    return {key: read_idx(path) for key, path in files.items()}
