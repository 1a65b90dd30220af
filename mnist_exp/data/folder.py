"""Users' own images as a dataset: a folder of class subfolders (`dataset=folder
dataset.path=DIR`), class names from the subfolder names in sorted order (as Keras'
`image_dataset_from_directory` numbers them).

    DIR/cat/*.png, DIR/dog/*.jpg, ...           a seeded, stratified test split is carved
    DIR/train/CLASS/..., DIR/test/CLASS/...     the given split
    DIR/CLASS/..., DIR/test/CLASS/...           the given test set, the rest for training

Images (PNG, JPEG, BMP, GIF, WebP, TIFF; any size, grey or colour) are taken as they are by
default (recipe "as_is"): in their colour mode (RGB when any image has colour, else grey) at
their most common size (at most MAX_INFERRED_SIDE a side, aspect ratio kept), each scaled to
it keeping its aspect ratio and centre-cropped; `dataset.image_size` and `dataset.color_mode`
choose instead. Recipe "digits" puts every image through MNIST's recipe, as `mnist-exp-predict`
does for digits. Prediction reads new images by the same recipe (`imaging.files`). The
converted arrays are cached under a key made of the recipe and every file's name and content:
changed, added or removed files are converted again.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from mnist_exp.data.disk_images import DiskImages, write_images
from mnist_exp.data.npz import write_npz_atomically
from mnist_exp.errors import DataError
from mnist_exp.imaging.decode import IMAGE_SUFFIXES, MAX_FILE_BYTES, ImageError, image_header
from mnist_exp.imaging.files import prepare_images
from mnist_exp.input_spec import COLOR_MODES, MNIST_INPUT, InputSpec
from mnist_exp.machine import available_cores
from mnist_exp.text import printable

log = logging.getLogger(__name__)

RECIPE_VERSION = "2"  # part of the cache key: a changed recipe converts again
MAX_INFERRED_SIDE = 128  # the inferred size is scaled down to this (pixels, longer side)
MIN_TRAIN_PER_CLASS = 2
MAX_CLASSES = 256  # labels are stored as uint8
SHOWN_PROBLEMS = 5
CONVERT_BATCH = 256  # files a thread reads and converts together
LABELS_FILE = "labels.npz"  # in a folder of images kept on disk, written last


@dataclass(frozen=True)
class LabelledFiles:
    """The image files of one split, each with its class number."""

    paths: list[Path]
    labels: list[int]


def _images_in(folder: Path) -> tuple[list[Path], list[Path]]:
    """(image files, other files) below `folder`, hidden files ignored, sorted."""
    images, others = [], []
    for path in sorted(folder.rglob("*")):
        if path.name.startswith(".") or not path.is_file():
            continue
        (images if path.suffix.lower() in IMAGE_SUFFIXES else others).append(path)
    return images, others


def _class_folders(folder: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    return sorted(
        child
        for child in folder.iterdir()
        if child.is_dir() and not child.name.startswith(".") and child.name not in skip
    )


def _files_of(folders: list[Path], class_names: list[str], where: Path) -> LabelledFiles:
    paths, labels, others = [], [], []
    for folder in folders:
        if folder.name not in class_names:
            raise DataError(
                f"{where}: the folder '{printable(folder.name)}' is not one of the training "
                f"classes ({', '.join(map(printable, class_names))}); rename or remove it."
            )
        images, rest = _images_in(folder)
        paths += images
        labels += [class_names.index(folder.name)] * len(images)
        others += rest
    if others:
        shown = ", ".join(printable(p.relative_to(where)) for p in others[:SHOWN_PROBLEMS])
        raise DataError(
            f"{where}: {len(others)} file(s) are not images ({shown}"
            f"{', ...' if len(others) > SHOWN_PROBLEMS else ''}); the folder dataset takes "
            f"{', '.join(IMAGE_SUFFIXES)}. Move them out of the class folders."
        )
    return LabelledFiles(paths, labels)


def _seeded_split(files: LabelledFiles, test_fraction: float, seed: int):
    rng = np.random.default_rng(seed)
    labels = np.asarray(files.labels)
    test = np.zeros(len(labels), bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        test[members[: max(1, round(test_fraction * len(members)))]] = True
    train = LabelledFiles(
        [p for p, t in zip(files.paths, test, strict=True) if not t], labels[~test].tolist()
    )
    held_out = LabelledFiles(
        [p for p, t in zip(files.paths, test, strict=True) if t], labels[test].tolist()
    )
    return train, held_out


def find_splits(root: Path, test_fraction: float, seed: int):
    """(class names, train files, test files) of the folder dataset at `root`.

    Raises:
        DataError: an empty folder, fewer than two classes, files that are not images, a
            class with too few training images or with no test images (with the counts).
    """
    if not root.is_dir():
        raise DataError(
            f"dataset.path={root} is not a folder. dataset=folder takes a folder of class "
            "subfolders (DIR/CLASS/*.png), optionally with train/ and test/."
        )
    has_train, has_test = (root / "train").is_dir(), (root / "test").is_dir()
    train_root = root / "train" if has_train else root
    class_folders = _class_folders(train_root, skip=("test", "train"))
    class_names = [folder.name for folder in class_folders]
    if len(class_names) < 2:
        raise DataError(
            f"{train_root}: {len(class_names)} class folder(s) "
            f"({', '.join(map(printable, class_names)) or 'none'}"
            "); a classifier needs at least two, one subfolder of images per class."
        )
    if len(class_names) > MAX_CLASSES:
        raise DataError(f"{train_root}: {len(class_names)} classes; at most {MAX_CLASSES}.")
    train = _files_of(class_folders, class_names, train_root)
    if has_test:
        test = _files_of(_class_folders(root / "test"), class_names, root / "test")
    else:
        train, test = _seeded_split(train, test_fraction, seed)
    train_counts = np.bincount(train.labels, minlength=len(class_names))
    test_counts = np.bincount(test.labels, minlength=len(class_names))
    short = [
        f"{name}: {count} train, {held} test"
        for name, count, held in zip(class_names, train_counts, test_counts, strict=True)
        if count < MIN_TRAIN_PER_CLASS or held == 0
    ]
    if short:
        raise DataError(
            f"{root}: too few images in {len(short)} class(es) ({'; '.join(short)}); each "
            f"class needs at least {MIN_TRAIN_PER_CLASS} training images and one test image."
        )
    return tuple(class_names), train, test


def _refuse_oversized(root: Path, files: list[Path]) -> None:
    oversized = [path for path in files if path.stat().st_size > MAX_FILE_BYTES]
    if oversized:
        shown = ", ".join(printable(path.relative_to(root)) for path in oversized[:SHOWN_PROBLEMS])
        raise DataError(
            f"{root}: {len(oversized)} file(s) are over the limit of {MAX_FILE_BYTES:,} bytes "
            f"per image ({shown}); they were not read. Scale them down or move them out."
        )


def content_key(root: Path, files: list[Path], asked: dict) -> str:
    """A digest of the recipe version, what was `asked` of it (recipe, size, colour mode)
    and every file's path (below `root`) and bytes (check the files' sizes first:
    `_refuse_oversized`)."""
    digest = hashlib.sha256(f"{RECIPE_VERSION}:{sorted(asked.items())}".encode())
    for path in files:
        digest.update(str(path.relative_to(root)).encode(errors="surrogateescape") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def _refuse_unreadable(root: Path, problems: list[str]) -> None:
    if problems:
        raise DataError(
            f"{root}: {len(problems)} image(s) cannot be read: "
            + "; ".join(printable(problem).rstrip(".") for problem in problems[:SHOWN_PROBLEMS])
            + ("; ..." if len(problems) > SHOWN_PROBLEMS else "")
            + ". Fix or remove them."
        )


def choose_input(
    root: Path,
    files: list[Path],
    recipe: str,
    image_size: tuple[int, int] | None,
    color_mode: str | None,
) -> InputSpec:
    """The input the run's model takes: MNIST's for the digit recipe; else `image_size` and
    `color_mode`, each inferred from the files' headers when None (the most common size,
    scaled down to MAX_INFERRED_SIDE; RGB when any image has colour).

    Raises:
        DataError: naming the files whose headers cannot be read.
    """
    if recipe == "digits":
        return MNIST_INPUT
    headers, problems = [], []
    if image_size is None or color_mode is None:
        for path in files:
            try:
                headers.append(image_header(path, str(path.relative_to(root))))
            except ImageError as error:
                problems.append(str(error))
    _refuse_unreadable(root, problems)
    if image_size is None:
        (width, height), _ = Counter((w, h) for w, h, _ in headers).most_common(1)[0]
        scale = min(1.0, MAX_INFERRED_SIDE / max(width, height))
        image_size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if color_mode is None:
        color_mode = "rgb" if any(colour for _, _, colour in headers) else "grayscale"
    return InputSpec(*image_size, channels=COLOR_MODES[color_mode], recipe=recipe)


def _converted_batches(files: list[Path], root: Path, spec: InputSpec):
    """Every file as `spec` takes it, a batch (uint8 array) at a time, converted on all cores.

    Raises:
        DataError: after the last batch, naming the files that cannot be read.
    """
    log.info("Converting %s images of %s ...", f"{len(files):,}", root)
    batches = [files[i : i + CONVERT_BATCH] for i in range(0, len(files), CONVERT_BATCH)]
    prepare = partial(prepare_images, spec=spec)
    problems = []
    with ThreadPoolExecutor(max_workers=available_cores()) as pool:
        for results in pool.map(prepare, batches):
            problems += [error for _, error in results if error is not None]
            if not problems:
                yield np.stack([image.pixels for image, _ in results]).astype(np.uint8)
    _refuse_unreadable(root, problems)


def convert(files: list[Path], root: Path, spec: InputSpec = MNIST_INPUT) -> np.ndarray:
    """Every file as `spec` takes it: uint8 [N, H, W] for grey, [N, H, W, 3] for RGB.

    Raises:
        DataError: naming the files that cannot be read.
    """
    return np.concatenate(list(_converted_batches(files, root, spec)))


def _row_shape(spec: InputSpec) -> tuple[int, ...]:
    return (spec.height, spec.width) if spec.channels == 1 else spec.shape


def _convert_to_disk(splits: dict, root: Path, spec: InputSpec, folder: Path) -> dict:
    """The splits' images converted into `folder` (x_train.npy, x_test.npy, then labels.npz,
    written last: a folder without it is incomplete), a batch at a time; read from there."""
    arrays = {}
    for split, files in splits.items():
        arrays[f"x_{split}"] = write_images(
            folder / f"x_{split}.npy",
            _row_shape(spec),
            len(files.paths),
            _converted_batches(files.paths, root, spec),
        )
        arrays[f"y_{split}"] = np.asarray(files.labels, np.uint8)
    write_npz_atomically(folder / LABELS_FILE, {k: v for k, v in arrays.items() if k[0] == "y"})
    return arrays


def _read_on_disk(folder: Path) -> dict | None:
    if not (folder / LABELS_FILE).is_file():
        return None
    try:
        with np.load(folder / LABELS_FILE, allow_pickle=False) as labels:
            arrays = {key: labels[key] for key in ("y_train", "y_test")}
        return {
            **arrays,
            **{f"x_{s}": DiskImages(folder / f"x_{s}.npy") for s in ("train", "test")},
        }
    except (OSError, ValueError, KeyError, EOFError):
        log.warning("The converted images in %s are damaged; converting again.", folder)
        return None


def read_folder(
    root: Path,
    cache_dir: Path,
    test_fraction: float,
    seed: int,
    recipe: str = "as_is",
    image_size: tuple[int, int] | None = None,
    color_mode: str | None = None,
    memory_budget_mb: int = 2048,
) -> dict:
    """The folder dataset as Keras-layout arrays plus `class_names` and `input` (the
    InputSpec its images were made for), converted once.

    Raises:
        DataError: as `find_splits`, `choose_input` and `convert` do.
    """
    root = Path(root).expanduser()
    class_names, train, test = find_splits(root, test_fraction, seed)
    files = [*train.paths, *test.paths]
    _refuse_oversized(root, files)
    # Keyed on what was asked, not on what the headers make of it: a second run reads no
    # header (3,000 PNGs: 1.0 of the 1.35 s a cache hit took).
    asked = {"recipe": recipe, "image_size": image_size, "color_mode": color_mode}
    key = content_key(root, files, asked)
    cached = Path(cache_dir) / "folders" / f"{key}-seed{seed}.npz"
    on_disk = cached.with_suffix("")  # the same, kept on disk (over the memory budget)
    budget = memory_budget_mb * 2**20
    fits = cached.is_file() and cached.stat().st_size <= budget
    arrays = (_read_cached(cached) if fits else None) or _read_on_disk(on_disk)
    if arrays is not None and sum(arrays[x].nbytes for x in ("x_train", "x_test")) <= budget:
        arrays = {key: np.asarray(value) for key, value in arrays.items()}  # within the budget
    if arrays is None:
        spec = choose_input(root, files, recipe, image_size, color_mode)
        size = len(files) * spec.height * spec.width * spec.channels
        if size > budget:
            log.info(
                "The converted images take %.0f MB, over dataset.memory_budget_mb=%d: kept on "
                "disk in %s and read a batch at a time.",
                size / 2**20,
                memory_budget_mb,
                on_disk,
            )
            arrays = _convert_to_disk({"train": train, "test": test}, root, spec, on_disk)
        else:
            arrays = {
                "x_train": convert(train.paths, root, spec),
                "y_train": np.asarray(train.labels, np.uint8),
                "x_test": convert(test.paths, root, spec),
                "y_test": np.asarray(test.labels, np.uint8),
            }
            write_npz_atomically(cached, arrays)
            log.info("Cached the converted images in %s", cached)
    height, width = arrays["x_train"].shape[1:3]
    log.info(
        "Images of %s taken as %dx%d %s, recipe %s (dataset.image_size, dataset.color_mode and "
        "dataset.recipe choose others)",
        root,
        height,
        width,
        "rgb" if arrays["x_train"].ndim == 4 else "grayscale",
        recipe,
    )
    return {**arrays, "class_names": class_names, "recipe": recipe}


def _read_cached(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, ValueError, KeyError, EOFError):
        log.warning("The cached conversion %s is damaged; converting again.", path)
        return None
