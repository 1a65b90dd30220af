"""Dataset and augmentation settings."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from mnist_exp.input_spec import COLOR_MODES, RECIPES
from mnist_exp.settings.schema import OptionSettings, require

MAX_SIDE = 1024  # dataset.image_size: larger sides are box-reduced on reading anyway
KNOWN_TRAIN_SIZES = {"mnist": 60_000, "fashion_mnist": 60_000}  # training images, per file

# The Keras tutorials' split, 5,000 of MNIST's 60,000 training images, as a fraction so that it
# scales to any subset (exactly 5,000 on the full set: 1/12 == 5000/60000 as floats).
DEFAULT_VALIDATION_FRACTION = 1 / 12


@dataclass(kw_only=True)
class DatasetSettings(OptionSettings, group="dataset"):
    """The keys every dataset reads; each option's class adds where its images come from, and
    names the function that loads them (`loader`, "module.function"), which is called with
    those keys as keyword arguments (`loader_arguments`)."""

    loader: ClassVar[str]

    validation_size: float | None  # None: DEFAULT_VALIDATION_FRACTION
    max_train_examples: int | None
    max_test_examples: int | None

    def __post_init__(self):
        super().__post_init__()
        for key in ("max_train_examples", "max_test_examples"):
            value = getattr(self, key)
            require(value is None or value > 0, f"dataset.{key}={value} must be positive.")
        if self.validation_size is None:
            return
        require(
            self.validation_size > 0,
            f"dataset.validation_size={self.validation_size} must be a fraction in (0, 1) "
            "or a number of images >= 1 (or null: 1/12 of the training images).",
        )
        if self.validation_size >= 1:
            require(
                float(self.validation_size).is_integer(),
                f"dataset.validation_size={self.validation_size} must be a fraction in (0, 1) "
                "or a whole number of images.",
            )
            available = self.max_train_examples or KNOWN_TRAIN_SIZES.get(self.name)
            require(
                getattr(self, "path", None) is not None
                or available is None
                or self.validation_size < available,
                f"dataset.validation_size={int(self.validation_size)} leaves no training "
                f"images out of {available}; use fewer, a fraction such as "
                "dataset.validation_size=0.1, or null (1/12 of the training images).",
            )

    @property
    def holds_digits(self) -> bool:
        """Whether the images are digits, which a mirror image would make wrong."""
        return self.name in ("mnist", "synthetic") or getattr(self, "recipe", None) == "digits"

    @property
    def validation_split(self) -> float:
        """A fraction in (0, 1) or a number of images (>= 1), for `stratified_split`."""
        if self.validation_size is None:
            return DEFAULT_VALIDATION_FRACTION
        return self.validation_size

    def loader_arguments(self, seed: int, path_label: str | None) -> dict:
        """The option's own keys (where its images come from), as its loader takes them;
        `path_label` is how logs and records name an interpolated `path`."""
        shared = {f.name for f in fields(DatasetSettings)}
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in shared}
        return {**own, "path_label": path_label}


@dataclass(kw_only=True)
class FileDatasetSettings(DatasetSettings, option=("mnist", "fashion_mnist")):
    path: str | None  # None: the Keras cache, the offline packages, then the download
    cache_dir: str | None
    download: bool

    @property
    def loader(self) -> str:
        return f"mnist_exp.data.sources.load_{self.name}"


@dataclass(kw_only=True)
class FolderDatasetSettings(DatasetSettings, option="folder"):
    loader = "mnist_exp.data.sources.load_folder"
    path: str | None
    cache_dir: str | None
    test_fraction: float  # held out per class when the folder has no test/ subfolder
    recipe: str  # "as_is" or "digits" (input_spec.RECIPES)
    image_size: list[int] | None  # [height, width]; None: the images' most common size
    color_mode: str | None  # "grayscale" or "rgb"; None: rgb when any image has colour
    small_below: int  # fewer training images: MNIST's trainer defaults adapt (small_data.py)
    memory_budget_mb: int  # converted images larger than this stay on disk (disk_images.py)

    def __post_init__(self):
        require(
            bool(self.path),
            "dataset=folder needs dataset.path=DIR: a folder with one subfolder of images per "
            "class.",
        )
        require(
            self.recipe in RECIPES,
            f"dataset.recipe={self.recipe!r}: expected as_is (the images as they are) or "
            "digits (MNIST's recipe, for handwritten digits).",
        )
        require(
            self.color_mode in (None, *COLOR_MODES),
            f"dataset.color_mode={self.color_mode!r}: expected grayscale, rgb or null (rgb "
            "when any image has colour).",
        )
        require(
            self.image_size is None
            or (
                len(self.image_size) == 2 and all(0 < side <= MAX_SIDE for side in self.image_size)
            ),
            f"dataset.image_size={self.image_size}: expected [height, width] of 1..{MAX_SIDE} "
            "pixels each, or null (the images' most common size).",
        )
        require(
            self.memory_budget_mb >= 1,
            f"dataset.memory_budget_mb={self.memory_budget_mb} must be >= 1 (megabytes).",
        )
        require(
            self.small_below >= 0,
            f"dataset.small_below={self.small_below} must be >= 0 (0: never adapt).",
        )
        require(
            self.recipe == "as_is" or (self.image_size is None and self.color_mode is None),
            "dataset.recipe=digits makes 28x28 grey digits; it takes no dataset.image_size or "
            "dataset.color_mode (use recipe=as_is for those).",
        )
        require(
            0 < self.test_fraction < 1,
            f"dataset.test_fraction={self.test_fraction} must be a fraction in (0, 1).",
        )
        super().__post_init__()

    def loader_arguments(self, seed: int, path_label: str | None) -> dict:
        arguments = {**super().loader_arguments(seed, path_label), "seed": seed}
        arguments.pop("small_below")  # for the trainer, not the loader
        return arguments


@dataclass(kw_only=True)
class SyntheticDatasetSettings(DatasetSettings, option="synthetic"):
    """Images made on the spot; max_train_examples and max_test_examples say how many."""

    loader = "mnist_exp.data.sources.load_synthetic"

    def loader_arguments(self, seed: int, path_label: str | None) -> dict:
        return {
            "max_train_examples": self.max_train_examples,
            "max_test_examples": self.max_test_examples,
            "seed": seed,
        }


@dataclass(kw_only=True)
class AugmentSettings:
    name: str
    rotation_degrees: float
    shift_fraction: float
    zoom_fraction: float
    elastic_alpha: float  # elastic distortion: displacement scale (pixels per unit of noise)
    elastic_sigma: float  # and the smoothness of its field (Gaussian sigma, pixels)
    erasing_probability: float
    erasing_size: float
    low_resolution_probability: float  # share of images written small, then scaled back up
    low_resolution_side: int  # the smallest side they are written at (pixels)
    plain_final_share: float  # of the epochs, those at the end on the images as they are
    horizontal_flip: float  # probability of mirroring an image left-right
    brightness: float  # levels shifted by up to this share of 255
    contrast: float  # contrast scaled by 1 +- this
    saturation: float  # colour saturation scaled by 1 +- this (RGB only)
    fill_mode: str  # "constant" (0) or "reflect": what warps bring in at the edges

    def plain_epochs(self, epochs: int) -> int:
        """How many of `epochs` (the last ones) train on the images as they are, rounded to
        even: a share of at most 0.5 leaves at least one epoch augmented (one epoch: none plain,
        three: two plain)."""
        return round(self.plain_final_share * epochs)

    def __post_init__(self):
        require(self.rotation_degrees >= 0, "augment.rotation_degrees must be >= 0.")
        require(self.elastic_alpha >= 0, "augment.elastic_alpha must be >= 0 (0: off).")
        require(
            0.0 <= self.plain_final_share <= 0.5,
            f"augment.plain_final_share={self.plain_final_share} must be in [0, 0.5] (0.125: "
            "the last 4 of 32 epochs on the images as they are).",
        )
        require(
            0.5 <= self.elastic_sigma <= 14,
            f"augment.elastic_sigma={self.elastic_sigma} must be in 0.5..14 pixels "
            "(Simard et al. used 4 with elastic_alpha 34).",
        )
        require(
            2 <= self.low_resolution_side <= 28,
            f"augment.low_resolution_side={self.low_resolution_side} must be in 2..28.",
        )
        require(
            self.fill_mode in ("constant", "reflect"),
            f"augment.fill_mode={self.fill_mode!r}: expected constant or reflect.",
        )
        require(
            self.fill_mode == "constant" or not self.elastic_alpha,
            "augment.fill_mode=reflect does not combine with augment.elastic_alpha (its "
            "sampling reads 0 beyond the edges); use one or the other.",
        )
        fractions = ("shift_fraction", "zoom_fraction", "erasing_probability", "erasing_size")
        photometric = ("horizontal_flip", "brightness", "contrast", "saturation")
        for key in (*fractions, "low_resolution_probability", *photometric):
            value = getattr(self, key)
            require(0.0 <= value <= 1.0, f"augment.{key}={value} must be in [0, 1].")

    @property
    def enabled(self) -> bool:
        return any(
            (
                self.rotation_degrees,
                self.shift_fraction,
                self.zoom_fraction,
                self.elastic_alpha,
                self.erasing_probability and self.erasing_size,
                self.low_resolution_probability,
                self.horizontal_flip,
                self.brightness,
                self.contrast,
                self.saturation,
            )
        )
