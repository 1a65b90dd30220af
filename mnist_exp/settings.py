"""Typed settings: the composed Hydra config, checked and turned into dataclasses.

Everything here runs before TensorFlow is imported, so a wrong type, an unknown key or an
impossible value costs the user a second, not a TensorFlow start-up.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from mnist_exp.errors import ConfigError

# The apps' Hydra config, shipped inside the package (so an installed wheel has it); users add
# their own folders with --config-dir or hydra.searchpath.
CONFIG_DIR = Path(__file__).resolve().parent / "conf"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _check_rate(section: str, name: str, value: float) -> None:
    _require(0.0 <= value < 1.0, f"{section}.{name}={value} must be in [0, 1).")


EPOCH_LOG_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")  # what every epoch logs
LAST_EPOCH = "last"  # trainer.checkpoint_monitor that keeps the final epoch's weights


def _check_monitor(key: str, value: str, extra: tuple[str, ...] = ()) -> None:
    choices = EPOCH_LOG_KEYS + extra
    _require(value in choices, f"{key}={value!r}: expected one of {choices}.")


# --------------------------------------------------------------------------- data
KNOWN_TRAIN_SIZES = {"mnist": 60_000, "fashion_mnist": 60_000}  # training images, per file


# The Keras tutorials' split, 5,000 of MNIST's 60,000 training images, as a fraction so that it
# scales to any subset (exactly 5,000 on the full set: 1/12 == 5000/60000 as floats).
DEFAULT_VALIDATION_FRACTION = 1 / 12


@dataclass
class DatasetSettings:
    name: str = "mnist"
    path: str | None = None
    cache_dir: str | None = None
    download: bool = True
    validation_size: float | None = None  # None: DEFAULT_VALIDATION_FRACTION
    max_train_examples: int | None = None
    max_test_examples: int | None = None
    test_fraction: float = 0.2  # dataset=folder without a test/ folder: held out per class

    _SIZES = ("validation_size", "max_train_examples", "max_test_examples")
    KEYS = {
        "mnist": ("path", "cache_dir", "download", *_SIZES),
        "fashion_mnist": ("path", "cache_dir", "download", *_SIZES),
        "synthetic": _SIZES,
        "folder": ("path", "cache_dir", "test_fraction", *_SIZES),
    }

    def __post_init__(self):
        _require(
            self.name in self.KEYS,
            f"dataset.name={self.name!r}: expected one of {', '.join(self.KEYS)}.",
        )
        _require(
            self.name != "folder" or bool(self.path),
            "dataset=folder needs dataset.path=DIR: a folder with one subfolder of images per "
            "class.",
        )
        _require(
            0 < self.test_fraction < 1,
            f"dataset.test_fraction={self.test_fraction} must be a fraction in (0, 1).",
        )
        for key in ("max_train_examples", "max_test_examples"):
            value = getattr(self, key)
            _require(value is None or value > 0, f"dataset.{key}={value} must be positive.")
        if self.validation_size is None:
            return
        _require(
            self.validation_size > 0,
            f"dataset.validation_size={self.validation_size} must be a fraction in (0, 1) "
            "or a number of images >= 1 (or null: 1/12 of the training images).",
        )
        if self.validation_size >= 1:
            _require(
                float(self.validation_size).is_integer(),
                f"dataset.validation_size={self.validation_size} must be a fraction in (0, 1) "
                "or a whole number of images.",
            )
            available = self.max_train_examples or KNOWN_TRAIN_SIZES.get(self.name)
            _require(
                self.path is not None or available is None or self.validation_size < available,
                f"dataset.validation_size={int(self.validation_size)} leaves no training "
                f"images out of {available}; use fewer, a fraction such as "
                "dataset.validation_size=0.1, or null (1/12 of the training images).",
            )

    @property
    def validation_split(self) -> float:
        """A fraction in (0, 1) or a number of images (>= 1), for `stratified_split`."""
        if self.validation_size is None:
            return DEFAULT_VALIDATION_FRACTION
        return self.validation_size


@dataclass
class AugmentSettings:
    name: str = "none"
    rotation_degrees: float = 0.0
    shift_fraction: float = 0.0
    zoom_fraction: float = 0.0
    erasing_probability: float = 0.0
    erasing_size: float = 0.0

    def __post_init__(self):
        _require(self.rotation_degrees >= 0, "augment.rotation_degrees must be >= 0.")
        for key in ("shift_fraction", "zoom_fraction", "erasing_probability", "erasing_size"):
            value = getattr(self, key)
            _require(0.0 <= value <= 1.0, f"augment.{key}={value} must be in [0, 1].")

    @property
    def enabled(self) -> bool:
        return any(
            (
                self.rotation_degrees,
                self.shift_fraction,
                self.zoom_fraction,
                self.erasing_probability and self.erasing_size,
            )
        )


# --------------------------------------------------------------------------- models
@dataclass
class ModelSettings:
    """Base of each model's settings; a subclass per builder in mnist_exp.models, whose
    fields (besides `name`) are that builder's keyword arguments."""

    name: str = ""


@dataclass
class MlpSettings(ModelSettings):
    name: str = "mlp"
    hidden_units: list[int] = field(default_factory=lambda: [128, 64])
    dropout_rate: float = 0.0
    l2_regularization: float = 0.0


@dataclass
class CnnSmallSettings(ModelSettings):
    name: str = "cnn_small"
    filters: list[int] = field(default_factory=lambda: [32, 64])
    dense_units: int = 0
    dropout_rate: float = 0.5
    l2_regularization: float = 0.0


@dataclass
class CnnSettings(ModelSettings):
    name: str = "cnn"
    filters: list[int] = field(default_factory=lambda: [32, 64])
    dense_units: int = 128
    conv_dropout_rate: float = 0.25
    dense_dropout_rate: float = 0.5
    l2_regularization: float = 0.0


@dataclass
class CnnBnSettings(ModelSettings):
    name: str = "cnn_bn"
    filters: list[int] = field(default_factory=lambda: [32, 64, 128])
    convs_per_block: int = 1
    dropout_rate: float = 0.25
    l2_regularization: float = 0.0


@dataclass
class ResnetSettings(ModelSettings):
    name: str = "resnet"
    filters: list[int] = field(default_factory=lambda: [32, 64, 128])
    blocks_per_stage: int = 2
    dropout_rate: float = 0.0
    l2_regularization: float = 0.0


@dataclass
class FastCnnSettings(ModelSettings):
    name: str = "fast_cnn"
    filters: list[int] = field(default_factory=lambda: [24, 32])
    kernel_sizes: list[int] = field(default_factory=lambda: [5, 3])
    dense_units: int = 256
    dropout_rate: float = 0.0
    l2_regularization: float = 0.0


@dataclass
class StridedCnnSettings(ModelSettings):
    name: str = "strided_cnn"
    filters: list[int] = field(default_factory=lambda: [32, 64])
    head_filters: int = 128
    dropout_rate: float = 0.4
    l2_regularization: float = 0.0


MODEL_SETTINGS = {settings().name: settings for settings in ModelSettings.__subclasses__()}


@dataclass(frozen=True)
class BuilderSettings:
    """A model from the user's own function (`model._target_: module.function`); every other
    key of the option is one of its keyword arguments."""

    target: str
    name: str
    arguments: dict


def _builder_section(cfg: DictConfig) -> BuilderSettings:
    from mnist_exp.models.builders import FRAMEWORK_ARGUMENTS, find_module

    arguments = OmegaConf.to_container(cfg.model, resolve=True)
    target = arguments.pop("_target_")
    _require(
        isinstance(target, str) and bool(target),
        f"model._target_={target!r} must be a string: module.function.",
    )
    supplied = [key for key in FRAMEWORK_ARGUMENTS if key in arguments]
    _require(
        not supplied,
        f"model.{supplied[0] if supplied else ''} is supplied by mnist_exp (from the data); "
        "remove it from the model option.",
    )
    find_module(target)
    name = arguments.pop("name", None) or target.rpartition(".")[2]
    return BuilderSettings(target=target, name=str(name), arguments=arguments)


def _check_model(model) -> None:
    for key, value in dataclasses.asdict(model).items():
        if key.endswith("dropout_rate"):
            _check_rate("model", key, value)
        elif key == "l2_regularization":
            _require(value >= 0, f"model.l2_regularization={value} must be >= 0.")
        elif isinstance(value, list):
            _require(
                len(value) > 0 and all(v > 0 for v in value),
                f"model.{key}={value} must be a non-empty list of positive integers.",
            )
        elif isinstance(value, int) and not isinstance(value, bool) and key != "dense_units":
            _require(value > 0, f"model.{key}={value} must be positive.")
        elif key == "dense_units":
            _require(value >= 0, f"model.dense_units={value} must be >= 0 (0: none).")
    kernel_sizes = getattr(model, "kernel_sizes", None)
    if kernel_sizes is not None:
        _require(
            len(kernel_sizes) == len(model.filters),
            f"model.kernel_sizes={kernel_sizes} needs one kernel size per entry of "
            f"model.filters={model.filters}.",
        )


# --------------------------------------------------------------------------- optimization
@dataclass
class ScheduleSettings:
    """Learning-rate schedule; each name reads the keys it needs."""

    name: str = "constant"
    warmup_epochs: float = 0.0
    decay_rate: float = 0.5
    decay_epochs: float = 1.0
    boundaries: list[float] = field(default_factory=list)
    factors: list[float] = field(default_factory=list)
    final_fraction: float = 0.0
    peak_fraction: float = 0.3
    monitor: str = "val_loss"
    factor: float = 0.5
    patience: int = 2
    min_learning_rate: float = 1e-6

    NAMES = ("constant", "exponential", "step", "cosine", "one_cycle", "reduce_on_plateau")
    # The keys each schedule reads; any other key under that schedule is refused.
    KEYS = {
        "constant": (),
        "exponential": ("decay_rate", "decay_epochs"),
        "step": ("boundaries", "factors"),
        "cosine": ("warmup_epochs", "final_fraction"),
        "one_cycle": ("peak_fraction", "final_fraction"),
        "reduce_on_plateau": ("monitor", "factor", "patience", "min_learning_rate"),
    }

    def __post_init__(self):
        _require(
            self.name in self.NAMES, f"schedule.name={self.name!r}: expected one of {self.NAMES}."
        )
        _require(self.warmup_epochs >= 0, "schedule.warmup_epochs must be >= 0.")
        _require(0 < self.decay_rate <= 1, "schedule.decay_rate must be in (0, 1].")
        _require(self.decay_epochs > 0, "schedule.decay_epochs must be > 0.")
        _require(0 <= self.final_fraction <= 1, "schedule.final_fraction must be in [0, 1].")
        _require(0 < self.peak_fraction < 1, "schedule.peak_fraction must be in (0, 1).")
        _require(0 < self.factor < 1, "schedule.factor must be in (0, 1).")
        _check_monitor("schedule.monitor", self.monitor)
        if self.name == "step":
            _require(
                len(self.factors) == len(self.boundaries) + 1,
                f"schedule=step needs one more factor than boundaries; got "
                f"boundaries={self.boundaries}, factors={self.factors}.",
            )
            _require(
                list(self.boundaries) == sorted(self.boundaries),
                "schedule.boundaries must be increasing.",
            )


# --------------------------------------------------------------------------- trainer
@dataclass
class EarlyStoppingSettings:
    enabled: bool = True
    monitor: str = "val_accuracy"
    patience: int = 3
    min_delta: float = 0.0
    restore_best_weights: bool = True


@dataclass
class TrainerSettings:
    epochs: int = 10
    batch_size: int = 128
    deterministic: bool = False
    steps_per_execution: int = 1
    checkpoint_monitor: str = "val_accuracy"
    terminate_on_nan: bool = True
    jit_compile: bool = False
    verbose: int = 0
    progress: str = "auto"
    histogram_freq: int = 0  # TensorBoard weight histograms every N epochs (0: none)
    write_graph: bool = False  # the model graph in TensorBoard
    early_stopping: EarlyStoppingSettings = field(default_factory=EarlyStoppingSettings)

    def __post_init__(self):
        _require(self.epochs >= 1, f"trainer.epochs={self.epochs} must be >= 1.")
        _require(self.batch_size >= 1, f"trainer.batch_size={self.batch_size} must be >= 1.")
        _require(self.steps_per_execution >= 1, "trainer.steps_per_execution must be >= 1.")
        _require(self.verbose in (0, 1, 2), "trainer.verbose must be 0, 1 or 2.")
        _require(
            self.histogram_freq >= 0,
            f"trainer.histogram_freq={self.histogram_freq} must be >= 0 (0: no histograms).",
        )
        _require(
            self.progress in ("auto", "on", "off"),
            f"trainer.progress={self.progress!r}: expected auto, on or off.",
        )
        _require(self.early_stopping.patience >= 0, "trainer.early_stopping.patience must be >= 0.")
        _check_monitor("trainer.checkpoint_monitor", self.checkpoint_monitor, (LAST_EPOCH,))
        _check_monitor("trainer.early_stopping.monitor", self.early_stopping.monitor)


# --------------------------------------------------------------------------- hardware
@dataclass
class StrategySettings:
    name: str = "default"
    device: str = "/cpu:0"
    devices: list[str] | None = None
    cpu_devices: int = 1
    batch_size_per_replica: bool = False
    scale_learning_rate: bool = False
    workers: list[str] | None = None
    worker_index: int = 0
    port_base: int = 8888  # under Slurm: the first worker port on each node
    threads: int | None = None  # None: the machine, or this job's share of it in a sweep

    NAMES = ("default", "one_device", "mirrored", "multi_worker")
    _BATCHES = ("batch_size_per_replica", "scale_learning_rate", "threads")
    # The keys each strategy reads; any other key under that strategy is refused.
    KEYS = {
        "default": ("cpu_devices", *_BATCHES),
        "one_device": ("device", *_BATCHES),
        "mirrored": ("devices", "cpu_devices", *_BATCHES),
        "multi_worker": ("workers", "worker_index", "port_base", *_BATCHES),
    }

    def __post_init__(self):
        _require(
            self.name in self.NAMES, f"strategy.name={self.name!r}: expected one of {self.NAMES}."
        )
        _require(self.cpu_devices >= 1, f"strategy.cpu_devices={self.cpu_devices} must be >= 1.")
        _require(
            self.threads is None or self.threads >= 1,
            f"strategy.threads={self.threads} must be >= 1 (or null: automatic).",
        )
        if self.workers:
            _require(
                0 <= self.worker_index < len(self.workers),
                f"strategy.worker_index={self.worker_index} must index strategy.workers "
                f"({len(self.workers)} workers).",
            )


@dataclass
class PrecisionSettings:
    policy: str = "float32"

    POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")

    def __post_init__(self):
        _require(
            self.policy in self.POLICIES,
            f"precision.policy={self.policy!r}: expected one of {self.POLICIES}.",
        )


# --------------------------------------------------------------------------- optimizer
@dataclass(frozen=True)
class OptimizerSettings:
    """`_target_` (a Keras optimizer class), the base learning rate, and any other keyword
    arguments of that class (checked by the class itself when it is built)."""

    target: str
    learning_rate: float
    arguments: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- objective
@dataclass
class ObjectiveSettings:
    """What a run is judged by: the best epoch's value of one history column. The Hydra task
    function returns it (for sweepers), Keras Tuner optimizes it, HParams records it."""

    metric: str = "val_accuracy"
    direction: str = "max"

    def __post_init__(self):
        _check_monitor("objective.metric", self.metric)
        _require(
            self.direction in ("max", "min"),
            f"objective.direction={self.direction!r}: expected max or min.",
        )

    def best(self, values) -> float:
        """The best finite value of `values` (NaN when there is none)."""
        finite = [float(v) for v in values if math.isfinite(v)]
        if not finite:
            return math.nan
        return max(finite) if self.direction == "max" else min(finite)


# --------------------------------------------------------------------------- experiment
@dataclass
class ExperimentSettings:
    seed: int
    dataset: DatasetSettings
    model: ModelSettings
    optimizer: OptimizerSettings
    schedule: ScheduleSettings
    augment: AugmentSettings
    trainer: TrainerSettings
    strategy: StrategySettings
    precision: PrecisionSettings
    objective: ObjectiveSettings

    @property
    def learning_rate(self) -> float:
        return self.optimizer.learning_rate


def parse_section(cfg: DictConfig, key: str, schema: type):
    """`cfg[key]` merged into the dataclass `schema` and checked; ConfigError names the key."""
    if key not in cfg:
        raise ConfigError(f"The config has no '{key}' section; add it or a '{key}=' choice.")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), cfg[key])
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        message = str(error).split("\n")[0]
        where = f"{key}.{error.full_key}" if getattr(error, "full_key", None) else key
        raise ConfigError(f"{where}: {message}") from None
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None


def _optimizer_section(cfg: DictConfig) -> OptimizerSettings:
    _require("optimizer" in cfg, "The config has no 'optimizer' section; add an optimizer= choice.")
    optimizer = OmegaConf.to_container(cfg.optimizer, resolve=True)
    target = optimizer.pop("_target_", None)
    _require(
        isinstance(target, str) and bool(target),
        "optimizer needs a _target_ (e.g. keras.optimizers.Adam).",
    )
    rate = optimizer.pop("learning_rate", None)
    _require(
        isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0,
        f"optimizer.learning_rate={rate!r} must be a positive number.",
    )
    return OptimizerSettings(target=target, learning_rate=float(rate), arguments=optimizer)


TOP_LEVEL_KEYS = (
    "seed",
    "resume",
    "objective",
    "dataset",
    "model",
    "optimizer",
    "schedule",
    "augment",
    "trainer",
    "strategy",
    "precision",
)


def _check_known_keys(cfg: DictConfig) -> None:
    unknown = [key for key in cfg if key not in TOP_LEVEL_KEYS]
    _require(
        not unknown,
        f"Unknown top-level config key(s) {unknown}: the training app reads only "
        f"{', '.join(TOP_LEVEL_KEYS)}. Remove them (a group such as search= or tuner= belongs "
        "to the tuner: mnist-exp-tune).",
    )


def _check_option_keys(cfg: DictConfig, section: str, keys: dict) -> None:
    """Refuses keys that another option of the group reads (e.g. +schedule.patience=5 under
    schedule=cosine): they would be silently ignored."""
    name = cfg[section].get("name")
    allowed = ("name", *keys.get(name, ()))
    foreign = [key for key in cfg[section] if key not in allowed]
    _require(
        not foreign,
        f"{section}={name} does not use {', '.join(f'{section}.{key}' for key in foreign)}; "
        f"its keys are {', '.join(f'{section}.{key}' for key in allowed[1:]) or 'none'}. "
        f"Remove the key or pick the {section} that reads it.",
    )


def _model_section(cfg: DictConfig) -> ModelSettings | BuilderSettings:
    if "_target_" in cfg.get("model", {}):
        return _builder_section(cfg)
    model_name = cfg.get("model", {}).get("name")
    _require(
        model_name in MODEL_SETTINGS,
        f"model.name={model_name!r}: expected one of {sorted(MODEL_SETTINGS)}, or a "
        "model._target_ naming your own builder function.",
    )
    model = parse_section(cfg, "model", MODEL_SETTINGS[model_name])
    _check_model(model)
    return model


def parse_settings(cfg: DictConfig) -> ExperimentSettings:
    """Checks the composed config and returns typed settings.

    Raises:
        ConfigError: one message naming the key, the value received and what is expected.
    """
    _check_known_keys(cfg)
    seed = cfg.get("seed", 0)
    _require(
        isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0,
        f"seed={seed!r} must be a non-negative integer.",
    )
    model = _model_section(cfg)
    settings = ExperimentSettings(
        seed=seed,
        dataset=parse_section(cfg, "dataset", DatasetSettings),
        model=model,
        optimizer=_optimizer_section(cfg),
        schedule=parse_section(cfg, "schedule", ScheduleSettings),
        augment=parse_section(cfg, "augment", AugmentSettings),
        trainer=parse_section(cfg, "trainer", TrainerSettings),
        strategy=parse_section(cfg, "strategy", StrategySettings),
        precision=parse_section(cfg, "precision", PrecisionSettings),
        objective=parse_section(cfg, "objective", ObjectiveSettings),
    )
    _check_option_keys(cfg, "dataset", DatasetSettings.KEYS)
    _check_option_keys(cfg, "schedule", ScheduleSettings.KEYS)
    _check_option_keys(cfg, "strategy", StrategySettings.KEYS)
    return settings


def dataset_path_as_written(cfg: DictConfig) -> str | None:
    """`dataset.path` as the config writes it when it is an interpolation such as
    `${oc.env:DATA}`: what logs and records show instead of the value it resolves to."""
    dataset = cfg.get("dataset")
    if dataset is None:
        return None
    written = OmegaConf.to_container(dataset, resolve=False).get("path")
    return written if isinstance(written, str) and "${" in written else None


def model_arguments(model) -> dict:
    """The model builder's keyword arguments: the settings minus the name."""
    if isinstance(model, BuilderSettings):
        return dict(model.arguments)
    arguments = dataclasses.asdict(model)
    arguments.pop("name")
    return arguments
