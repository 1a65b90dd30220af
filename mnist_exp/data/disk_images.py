"""Images that stay on disk: a folder too large for `dataset.memory_budget_mb` is converted
once into uint8 `.npy` files, which training reads a batch at a time (`os.pread`, so the
pages sit in the operating system's file cache, not in the process's memory).

`DiskImages` reads like the array it stands for where the pipeline needs it: `len`, `shape`,
`ndim`, `dtype`; an integer, a slice or a list of indices reads those images into memory (as
numpy would return them); `subset(indices)` is a lazy view, which splits are made of.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mnist_exp import safe_files


class DiskImages:
    def __init__(self, path: Path, indices: np.ndarray | None = None):
        self.path = Path(path)
        with open(self.path, "rb") as stream:
            np.lib.format.read_magic(stream)  # version 1.0: what write_images writes
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            self._offset = stream.tell()
        if fortran or dtype != np.uint8:
            raise ValueError(f"{self.path}: not a C-ordered uint8 array")
        self._row_shape = tuple(shape[1:])
        self._row_bytes = int(np.prod(self._row_shape))
        expected = self._offset + shape[0] * self._row_bytes
        if self.path.stat().st_size != expected:  # cut short, or something appended
            raise ValueError(f"{self.path}: {self.path.stat().st_size} bytes, {expected} expected")
        self._indices = np.arange(shape[0]) if indices is None else np.asarray(indices)

    def __len__(self) -> int:
        return len(self._indices)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self._row_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self._row_shape)

    dtype = np.dtype(np.uint8)

    @property
    def nbytes(self) -> int:
        return len(self) * self._row_bytes

    def subset(self, indices) -> DiskImages:
        """The images at `indices` (of this view), still on disk."""
        return DiskImages(self.path, self._indices[np.asarray(indices)])

    def read(self, positions) -> np.ndarray:
        """The images at `positions` of this view, in memory, in that order."""
        positions = np.asarray(positions)
        if positions.dtype == bool:  # a mask, as numpy takes it
            positions = np.flatnonzero(positions)
        rows = self._indices[positions.astype(np.int64)]
        out = np.empty((len(rows), *self._row_shape), np.uint8)
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            for place, row in enumerate(rows):
                start = self._offset + int(row) * self._row_bytes
                out[place] = np.frombuffer(
                    os.pread(descriptor, self._row_bytes, start), np.uint8
                ).reshape(self._row_shape)
        finally:
            os.close(descriptor)
        return out

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self.read([key])[0]
        if isinstance(key, slice):
            return self.read(np.arange(len(self))[key])
        return self.read(key)

    def __array__(self, dtype=None, copy=None):
        images = self.read(np.arange(len(self)))
        return images if dtype is None else images.astype(dtype)


def write_images(path: Path, row_shape: tuple[int, ...], count: int, batches) -> DiskImages:
    """Writes `count` uint8 images of `row_shape` from `batches` (arrays, in order) into the
    `.npy` file `path`, atomically, holding one batch in memory at a time."""
    header = {"descr": "|u1", "fortran_order": False, "shape": (count, *row_shape)}
    written = 0
    with safe_files.open_atomically(path, "wb") as stream:
        np.lib.format.write_array_header_1_0(stream, header)
        for batch in batches:
            stream.write(np.ascontiguousarray(batch, np.uint8).tobytes())
            written += len(batch)
        if written != count:  # inside: the half-written file is dropped
            raise ValueError(f"{path}: {written} images written, {count} expected")
    return DiskImages(path)
