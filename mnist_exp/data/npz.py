"""Reading and writing datasets in the Keras `.npz` layout (x_train, y_train, x_test, y_test)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from mnist_exp.errors import DataError
from mnist_exp.safe_files import open_atomically

ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _class_names(names: np.ndarray, path: Path) -> tuple[str, ...]:
    if names.ndim != 1 or names.dtype.kind not in "US" or len(names) < 2:
        raise DataError(
            f"{path}: class_names must be a list of at least two strings; got shape "
            f"{names.shape}, dtype {names.dtype}."
        )
    return tuple(str(name) for name in names.tolist())


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Reads the four arrays of a Keras-layout `.npz`, never unpickling anything.

    Raises:
        DataError: if the file is missing, truncated, corrupt or lacks an array.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in ARRAY_KEYS if key not in archive.files]
            if missing:
                raise DataError(
                    f"{path} lacks the array(s) {missing}; a Keras-layout .npz holds "
                    f"{list(ARRAY_KEYS)}."
                )
            # Reading every member checks each one's CRC, so corruption surfaces here.
            arrays = {key: archive[key] for key in ARRAY_KEYS}
            if "class_names" in archive.files:
                arrays["class_names"] = _class_names(archive["class_names"], path)
            return arrays
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise DataError(
            f"{path} is corrupt or truncated ({type(error).__name__}: {error}). "
            "Delete it and provide an intact copy."
        ) from error


def write_npz_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Writes `arrays` to `path` through a temporary file, so no reader sees half a file."""
    with open_atomically(path, "wb") as stream:
        # Uncompressed: 55 MB for MNIST, read in ~0.04 s instead of ~0.2 s, at every start.
        np.savez(stream, **arrays)


def arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the four arrays' names, dtypes, shapes and bytes (not of the file, whose zip
    headers vary with the numpy version): what a cache holds, however it was written."""
    digest = hashlib.sha256()
    for key in ARRAY_KEYS:
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.data)
    return digest.hexdigest()
