"""How config sections become settings: merged into a dataclass and checked, with one
ConfigError that names the key; and config groups whose options are a class each.

The values live in the YAML files of `mnist_exp/conf/` (what users read and what a run
records); the dataclasses say each key's type and check its value, and hold no defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import partial
from typing import ClassVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from mnist_exp.errors import ConfigError

# What every epoch logs, and which way is better: monitors, objectives and checkpoints read it.
EPOCH_LOG_KEYS = {"loss": "min", "accuracy": "max", "val_loss": "min", "val_accuracy": "max"}
LAST_EPOCH = "last"  # trainer.checkpoint_monitor that keeps the final epoch's weights


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)  # YAML's true is no 1


def is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_rate(key: str, value: float) -> None:
    require(0.0 <= value < 1.0, f"{key}={value} must be in [0, 1).")


def check_positive(key: str, value: int, zero_means: str | None = None) -> None:
    if zero_means is None:
        require(value > 0, f"{key}={value} must be positive.")
    else:
        require(value >= 0, f"{key}={value} must be >= 0 (0: {zero_means}).")


def check_positive_list(key: str, values: list[int]) -> None:
    require(
        len(values) > 0 and all(value > 0 for value in values),
        f"{key}={values} must be a non-empty list of positive integers.",
    )


def check_non_negative(key: str, value: float) -> None:
    require(value >= 0, f"{key}={value} must be >= 0.")


# Metadata of fields whose value is checked when the settings are made (`OptionSettings`
# runs the checks): `dropout_rate: float = field(metadata=RATE)`.
RATE = {"check": check_rate}
NON_NEGATIVE = {"check": check_non_negative}
POSITIVE = {"check": check_positive}
POSITIVE_OR_NONE = {"check": partial(check_positive, zero_means="none")}
POSITIVE_LIST = {"check": check_positive_list}


def check_log_key(key: str, value: str, extra: tuple[str, ...] = ()) -> None:
    choices = (*EPOCH_LOG_KEYS, *extra)
    require(value in choices, f"{key}={value!r}: expected one of {choices}.")


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


@dataclass(kw_only=True)
class OptionSettings:
    """The settings of one option of a config group (conf/GROUP/NAME.yaml): its `name` picks
    the class, whose fields are exactly the keys the option reads.

    A group's base class is declared with `group=`; each option's class with `option=` (one
    name or several), which registers it, so adding an option is one YAML and one class.
    """

    group: ClassVar[str]
    options: ClassVar[dict[str, type]]
    other_choices: ClassVar[str] = ""  # what an unknown name is told besides the options

    name: str

    def __init_subclass__(cls, group: str | None = None, option: str | tuple = (), **kwargs):
        super().__init_subclass__(**kwargs)
        if group is not None:
            cls.group, cls.options = group, {}
        for name in (option,) if isinstance(option, str) else option:
            cls.options[name] = cls

    def __post_init__(self):
        for each in fields(self):
            if check := each.metadata.get("check"):
                check(f"{self.group}.{each.name}", getattr(self, each.name))

    @classmethod
    def own_keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name != "name")


def parse_option(cfg: DictConfig, base: type[OptionSettings]):
    """`cfg[GROUP]` as the settings of its option. A key that only another option reads (e.g.
    +schedule.patience=5 under schedule=cosine) is refused by name: it would be ignored."""
    group = base.group
    section = cfg.get(group)
    require(section is not None, f"The config has no '{group}' section; add a '{group}=' choice.")
    name = section.get("name")
    require(
        name in base.options,
        f"{group}.name={name!r}: expected one of {', '.join(sorted(base.options))}"
        f"{base.other_choices}.",
    )
    option = base.options[name]
    foreign = [key for key in section if key != "name" and key not in option.own_keys()]
    require(
        not foreign,
        f"{group}={name} does not use {', '.join(f'{group}.{key}' for key in foreign)}; "
        f"its keys are {', '.join(f'{group}.{key}' for key in option.own_keys()) or 'none'}. "
        f"Remove the key or pick the {group} that reads it.",
    )
    return parse_section(cfg, group, option)
