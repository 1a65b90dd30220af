"""Options made by a builder function that `_target_` names: a model (conf/model/NAME.yaml)
and a learning-rate schedule (conf/schedule/NAME.yaml), built-in or the user's own alike,
called with the option's other keys as keyword arguments besides what the framework passes.
Before TensorFlow starts, the keys are checked against the function's parameters and the
values against the types written on them (`mnist_exp.builder_types`), both read from its
source."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import get_args

from omegaconf import DictConfig, OmegaConf

from mnist_exp import builder_types
from mnist_exp.settings.schema import (
    check_non_negative,
    check_positive,
    check_positive_list,
    check_rate,
    is_integer,
    is_number,
    require,
)
from mnist_exp.targets import Parameters, read_parameters


@dataclass(frozen=True)
class BuilderSettings:
    """`builder` ("module.function") is called with `keyword_arguments`, besides what the
    framework passes (a model: the input shape and class count); `name` names the option in
    records and messages."""

    builder: str
    name: str
    keyword_arguments: dict

    def arguments(self) -> dict:
        return dict(self.keyword_arguments)


def _in_unit_interval(key: str, value: float) -> None:
    require(0 <= value <= 1, f"{key}={value} must be in [0, 1].")


def _positive_number(key: str, value: float) -> None:
    require(value > 0, f"{key}={value} must be > 0.")


def _anything(key: str, value) -> None:
    pass


# For each type of mnist_exp.builder_types: the value's kind, then its range.
VALUE_CHECKS = {
    "Rate": (is_number, check_rate),
    "Fraction": (is_number, _in_unit_interval),
    "NonNegative": (is_number, check_non_negative),
    "PositiveNumber": (is_number, _positive_number),
    "Positive": (is_integer, check_positive),
    "Count": (is_integer, partial(check_positive, zero_means="none")),
    "Sizes": (lambda v: isinstance(v, list) and all(map(is_integer, v)), check_positive_list),
    "Numbers": (lambda v: isinstance(v, list) and all(map(is_number, v)), _anything),
}


def parse_builder(cfg: DictConfig, group: str, framework_arguments: tuple[str, ...]):
    """`cfg[group]`, an option that names its builder: the builder, the option's name and its
    checked keyword arguments (`framework_arguments` are passed by mnist_exp, never set)."""
    section = cfg.get(group)
    require(
        isinstance(section, DictConfig),
        f"The config has no '{group}' section; add a '{group}=' choice.",
    )
    arguments = OmegaConf.to_container(section, resolve=True)
    target = arguments.pop("_target_", None)
    require(
        isinstance(target, str) and bool(target),
        f"{group}._target_={target!r} must name the builder function as module.function (each "
        f"conf/{group}/NAME.yaml names its own).",
    )
    supplied = [key for key in framework_arguments if key in arguments]
    require(
        not supplied,
        f"{group}.{supplied[0] if supplied else ''} is supplied by mnist_exp; remove it from "
        f"the {group} option.",
    )
    name = str(arguments.pop("name", None) or target.rpartition(".")[2])
    parameters = read_parameters(target, f"{group}._target_")  # which finds the module first
    if parameters is not None:
        _check_arguments(group, name, target, arguments, parameters, framework_arguments)
    return BuilderSettings(builder=target, name=name, keyword_arguments=arguments)


def _check_arguments(
    group: str,
    name: str,
    target: str,
    arguments: dict,
    parameters: Parameters,
    framework_arguments: tuple[str, ...],
) -> None:
    own = [key for key in parameters.annotations if key not in framework_arguments]
    unknown = [key for key in arguments if key not in own]
    require(
        parameters.any_keyword or not unknown,
        f"{group}={name} does not use {', '.join(f'{group}.{key}' for key in unknown)}; its "
        f"keys are {', '.join(f'{group}.{key}' for key in own) or 'none'}. Remove the key or "
        f"pick the {group} that reads it.",
    )
    missing = [
        key
        for key in parameters.required
        if key not in framework_arguments and key not in arguments
    ]
    require(
        not missing,
        f"{group}={name} needs {', '.join(f'{group}.{key}' for key in missing)} ({target} has "
        f"no default for it): add +{group}.KEY=VALUE.",
    )
    for key, value in arguments.items():
        kind = parameters.annotations.get(key)
        if kind in VALUE_CHECKS:
            of_kind, in_range = VALUE_CHECKS[kind]
            described = get_args(getattr(builder_types, kind))[1]
            require(of_kind(value), f"{group}.{key}={value!r} must be {described}.")
            in_range(f"{group}.{key}", value)
