"""The model: a builder function named by `model._target_` (a built-in one's in its
conf/model/NAME.yaml, or the user's own), called with the option's other keys as keyword
arguments. Before TensorFlow starts, the keys are checked against the builder's parameters
and the values against the types the builder writes on them (`mnist_exp.builder_types`),
both read from its source."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import get_args

from omegaconf import DictConfig, OmegaConf

from mnist_exp import builder_types
from mnist_exp.models.builders import FRAMEWORK_ARGUMENTS, TARGET_KEY
from mnist_exp.settings.schema import (
    check_non_negative,
    check_positive,
    check_positive_list,
    check_rate,
    require,
)
from mnist_exp.targets import Parameters, find_module, read_parameters


@dataclass(frozen=True)
class ModelSettings:
    """`builder` ("module.function") is called with `keyword_arguments`, besides the input
    shape and class count the data gives; `name` names the model in records."""

    builder: str
    name: str
    keyword_arguments: dict

    def arguments(self) -> dict:
        return dict(self.keyword_arguments)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integers(value) -> bool:
    return isinstance(value, list) and all(_integer(each) for each in value)


# For each type of mnist_exp.builder_types: the value's kind, then its range.
VALUE_CHECKS = {
    "Rate": (_number, check_rate),
    "NonNegative": (_number, check_non_negative),
    "Positive": (_integer, check_positive),
    "Count": (_integer, partial(check_positive, zero_means="none")),
    "Sizes": (_integers, check_positive_list),
}


def parse_model(cfg: DictConfig) -> ModelSettings:
    """The `model` section: its builder, name and checked keyword arguments."""
    section = cfg.get("model")
    require(
        isinstance(section, DictConfig),
        "The config has no 'model' section; add a 'model=' choice.",
    )
    arguments = OmegaConf.to_container(section, resolve=True)
    target = arguments.pop("_target_", None)
    require(
        isinstance(target, str) and bool(target),
        f"model._target_={target!r} must name the builder function as module.function (each "
        "conf/model/NAME.yaml names its own).",
    )
    supplied = [key for key in FRAMEWORK_ARGUMENTS if key in arguments]
    require(
        not supplied,
        f"model.{supplied[0] if supplied else ''} is supplied by mnist_exp (from the data); "
        "remove it from the model option.",
    )
    find_module(target, TARGET_KEY)
    name = str(arguments.pop("name", None) or target.rpartition(".")[2])
    parameters = read_parameters(target, TARGET_KEY)
    if parameters is not None:
        _check_arguments(name, target, arguments, parameters)
    return ModelSettings(builder=target, name=name, keyword_arguments=arguments)


def _check_arguments(name: str, target: str, arguments: dict, parameters: Parameters) -> None:
    own = [key for key in parameters.annotations if key not in FRAMEWORK_ARGUMENTS]
    unknown = [key for key in arguments if key not in own]
    require(
        parameters.any_keyword or not unknown,
        f"model={name} does not use {', '.join(f'model.{key}' for key in unknown)}; its keys "
        f"are {', '.join(f'model.{key}' for key in own) or 'none'}. Remove the key or pick "
        "the model that reads it.",
    )
    missing = [
        key
        for key in parameters.required
        if key not in FRAMEWORK_ARGUMENTS and key not in arguments
    ]
    require(
        not missing,
        f"model={name} needs {', '.join(f'model.{key}' for key in missing)} ({target} has no "
        "default for it): add +model.KEY=VALUE.",
    )
    for key, value in arguments.items():
        kind = parameters.annotations.get(key)
        if kind in VALUE_CHECKS:
            of_kind, in_range = VALUE_CHECKS[kind]
            described = get_args(getattr(builder_types, kind))[1]
            require(of_kind(value), f"model.{key}={value!r} must be {described}.")
            in_range(f"model.{key}", value)
