"""The optimizer's settings; and what a learning-rate schedule's builder is given by the
framework (the schedule itself is an option made by a builder: `settings.builders`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import DictConfig, OmegaConf

from mnist_exp.settings.schema import is_number, require
from mnist_exp.targets import find_target


@dataclass(frozen=True)
class OptimizerSettings:
    """`_target_` (a Keras optimizer class), the base learning rate, and any other keyword
    arguments of that class (checked by the class itself when it is built)."""

    target: str
    learning_rate: float
    arguments: dict = field(default_factory=dict)


def parse_optimizer(cfg: DictConfig) -> OptimizerSettings:
    require("optimizer" in cfg, "The config has no 'optimizer' section; add an optimizer= choice.")
    optimizer = OmegaConf.to_container(cfg.optimizer, resolve=True)
    target = optimizer.pop("_target_", None)
    require(
        isinstance(target, str) and bool(target),
        "optimizer needs a _target_ (e.g. keras.optimizers.Adam).",
    )
    find_target(target, "optimizer._target_")
    rate = optimizer.pop("learning_rate", None)
    require(
        is_number(rate) and rate > 0,
        f"optimizer.learning_rate={rate!r} must be a positive number.",
    )
    _check_weight_averaging(optimizer)
    return OptimizerSettings(target=target, learning_rate=float(rate), arguments=optimizer)


def _check_weight_averaging(arguments: dict) -> None:
    # Keras takes any truthy use_ema as on: checked here, and before the run starts.
    use_ema = arguments.get("use_ema", False)
    require(isinstance(use_ema, bool), f"optimizer.use_ema={use_ema!r} must be true or false.")
    momentum = arguments.get("ema_momentum", 0.99)
    require(
        is_number(momentum) and 0 <= momentum < 1,
        f"optimizer.ema_momentum={momentum!r} must be a number in [0, 1): the share of the "
        "weight average kept at each step (0.99 averages about the last 100 steps).",
    )


# A schedule's builder is called with these, and the option's keys (training/schedules.py).
SCHEDULE_ARGUMENTS = ("learning_rate", "steps_per_epoch", "epochs")
