"""Typed settings: the composed Hydra config, checked and turned into dataclasses.

Everything here runs before TensorFlow is imported, so a wrong type, an unknown key or an
impossible value costs the user a second, not a TensorFlow start-up. The values live in the
YAML files of `conf/`. A model and a schedule name their builder function (`_target_`), whose
parameters say the keys and their types (`builders`); for the other sections the classes in
this package say each key's type and check it (see `schema`), one class per option of a
group, found by its `name`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mnist_exp.models.builders import FRAMEWORK_ARGUMENTS
from mnist_exp.settings.builders import BuilderSettings, parse_builder
from mnist_exp.settings.data import AugmentSettings, DatasetSettings
from mnist_exp.settings.extensions import TargetSettings, parse_loss, parse_named_targets
from mnist_exp.settings.hardware import PrecisionSettings, StrategySettings
from mnist_exp.settings.logger import LoggerSettings
from mnist_exp.settings.optimization import (
    SCHEDULE_ARGUMENTS,
    OptimizerSettings,
    parse_optimizer,
)
from mnist_exp.settings.schema import (
    LAST_EPOCH,
    is_integer,
    parse_option,
    parse_section,
    require,
)
from mnist_exp.settings.trainer import ObjectiveSettings, TrainerSettings

__all__ = [
    "CONFIG_DIR",
    "LAST_EPOCH",
    "AugmentSettings",
    "BuilderSettings",
    "DatasetSettings",
    "ExperimentSettings",
    "ObjectiveSettings",
    "OptimizerSettings",
    "PrecisionSettings",
    "StrategySettings",
    "TrainerSettings",
    "dataset_path_as_written",
    "parse_section",
    "parse_settings",
]

# The apps' Hydra config, shipped inside the package (so an installed wheel has it); users add
# their own folders with --config-dir or hydra.searchpath.
CONFIG_DIR = Path(__file__).resolve().parent.parent / "conf"


@dataclass(kw_only=True)
class ExperimentSettings:
    seed: int
    objective: ObjectiveSettings
    dataset: DatasetSettings
    model: BuilderSettings  # conf/model: a builder function and its keys
    optimizer: OptimizerSettings
    schedule: BuilderSettings  # conf/schedule: the same
    augment: AugmentSettings
    trainer: TrainerSettings
    strategy: StrategySettings
    precision: PrecisionSettings
    callbacks: tuple[TargetSettings, ...]  # presets and the user's, after mnist_exp's own
    metrics: tuple[TargetSettings, ...]  # the user's, beside accuracy
    loss: TargetSettings | None  # None: the built-in cross-entropy
    logger: LoggerSettings

    def __post_init__(self):
        require(
            not (self.augment.horizontal_flip and self.dataset.holds_digits),
            f"augment.horizontal_flip={self.augment.horizontal_flip} mirrors images, and "
            f"dataset={self.dataset.name} holds digits (a mirrored 2 is no 2); use "
            "augment=light or strong for digits, natural for photos.",
        )
        require(
            self.strategy.name != "multi_worker" or not (self.metrics or self.loss),
            "strategy=multi_worker trains in its own loop, with the built-in loss and accuracy "
            "only: remove metrics.* and loss._target_, or train on one machine.",
        )
        for entry in self.callbacks:  # Keras would refuse at the first plateau, mid-run
            require(
                not entry.target.endswith(".ReduceLROnPlateau") or self.schedule.name == "constant",
                f"{entry.key} ({entry.target}) sets the learning rate itself, and "
                f"schedule={self.schedule.name} sets it at every step: add schedule=constant.",
            )

    @property
    def learning_rate(self) -> float:
        return self.optimizer.learning_rate


# The training app's top-level keys: the settings', and `resume`, which is about the command.
TOP_LEVEL_KEYS = (*(f.name for f in fields(ExperimentSettings)), "resume")


def parse_settings(cfg: DictConfig) -> ExperimentSettings:
    """Checks the composed config and returns typed settings.

    Raises:
        ConfigError: one message naming the key, the value received and what is expected.
    """
    unknown = [key for key in cfg if key not in TOP_LEVEL_KEYS]
    require(
        not unknown,
        f"Unknown top-level config key(s) {unknown}: the training app reads only "
        f"{', '.join(TOP_LEVEL_KEYS)}. Remove them (a group such as search= or tuner= belongs "
        "to the tuner: mnist-exp-tune).",
    )
    seed = cfg.get("seed", 0)
    require(
        is_integer(seed) and seed >= 0,
        f"seed={seed!r} must be a non-negative integer.",
    )
    return ExperimentSettings(  # grouped by the module that parses them
        seed=seed,
        dataset=parse_option(cfg, DatasetSettings),
        strategy=parse_option(cfg, StrategySettings),
        logger=parse_option(cfg, LoggerSettings),
        augment=parse_section(cfg, "augment", AugmentSettings),
        trainer=parse_section(cfg, "trainer", TrainerSettings),
        precision=parse_section(cfg, "precision", PrecisionSettings),
        objective=parse_section(cfg, "objective", ObjectiveSettings),
        model=parse_builder(cfg, "model", FRAMEWORK_ARGUMENTS),
        schedule=parse_builder(cfg, "schedule", SCHEDULE_ARGUMENTS),
        optimizer=parse_optimizer(cfg),
        callbacks=parse_named_targets(cfg, "callbacks"),
        metrics=parse_named_targets(cfg, "metrics"),
        loss=parse_loss(cfg),
    )


def dataset_path_as_written(cfg: DictConfig) -> str | None:
    """`dataset.path` as the config writes it when it is an interpolation such as
    `${oc.env:DATA}`: what logs and records show instead of the value it resolves to."""
    dataset = cfg.get("dataset")
    if dataset is None:
        return None
    written = OmegaConf.to_container(dataset, resolve=False).get("path")
    return written if isinstance(written, str) and "${" in written else None
