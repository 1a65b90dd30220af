"""Optimizer and learning-rate schedule settings: one class per schedule (conf/schedule/)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import DictConfig, OmegaConf

from mnist_exp.settings.schema import OptionSettings, require


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
    rate = optimizer.pop("learning_rate", None)
    require(
        _is_number(rate) and rate > 0,
        f"optimizer.learning_rate={rate!r} must be a positive number.",
    )
    _check_weight_averaging(optimizer)
    return OptimizerSettings(target=target, learning_rate=float(rate), arguments=optimizer)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)  # YAML's true is no 1


def _check_weight_averaging(arguments: dict) -> None:
    # Keras takes any truthy use_ema as on: checked here, and before the run starts.
    use_ema = arguments.get("use_ema", False)
    require(isinstance(use_ema, bool), f"optimizer.use_ema={use_ema!r} must be true or false.")
    momentum = arguments.get("ema_momentum", 0.99)
    require(
        _is_number(momentum) and 0 <= momentum < 1,
        f"optimizer.ema_momentum={momentum!r} must be a number in [0, 1): the share of the "
        "weight average kept at each step (0.99 averages about the last 100 steps).",
    )


@dataclass(kw_only=True)
class ScheduleSettings(OptionSettings, group="schedule"):
    """How the learning rate moves from optimizer.learning_rate over the run."""


@dataclass(kw_only=True)
class ConstantSchedule(ScheduleSettings, option="constant"):
    pass


@dataclass(kw_only=True)
class ExponentialSchedule(ScheduleSettings, option="exponential"):
    decay_rate: float
    decay_epochs: float

    def __post_init__(self):
        super().__post_init__()
        require(0 < self.decay_rate <= 1, "schedule.decay_rate must be in (0, 1].")
        require(self.decay_epochs > 0, "schedule.decay_epochs must be > 0.")


@dataclass(kw_only=True)
class StepSchedule(ScheduleSettings, option="step"):
    boundaries: list[float]  # epochs
    factors: list[float]  # of the learning rate, one more than boundaries

    def __post_init__(self):
        super().__post_init__()
        require(
            len(self.factors) == len(self.boundaries) + 1,
            f"schedule=step needs one more factor than boundaries; got "
            f"boundaries={self.boundaries}, factors={self.factors}.",
        )
        require(
            list(self.boundaries) == sorted(self.boundaries),
            "schedule.boundaries must be increasing.",
        )


@dataclass(kw_only=True)
class CosineSchedule(ScheduleSettings, option="cosine"):
    warmup_epochs: float
    final_fraction: float

    def __post_init__(self):
        super().__post_init__()
        require(self.warmup_epochs >= 0, "schedule.warmup_epochs must be >= 0.")
        require(0 <= self.final_fraction <= 1, "schedule.final_fraction must be in [0, 1].")


@dataclass(kw_only=True)
class OneCycleSchedule(ScheduleSettings, option="one_cycle"):
    peak_fraction: float
    final_fraction: float

    def __post_init__(self):
        super().__post_init__()
        require(0 < self.peak_fraction < 1, "schedule.peak_fraction must be in (0, 1).")
        require(0 <= self.final_fraction <= 1, "schedule.final_fraction must be in [0, 1].")
