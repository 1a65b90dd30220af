"""Search spaces declared in YAML (`conf/search/*.yaml`), turned into Keras Tuner
hyperparameters, and trial values turned back into config values.

A choice among lists (e.g. model.filters) is offered to Keras Tuner as text labels, since
its Choice takes scalars only; `assignments` maps the labels back.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from omegaconf import DictConfig, OmegaConf

from mnist_exp.errors import ConfigError
from mnist_exp.settings.schema import is_number

TYPES = ("float", "int", "choice", "boolean")
SAMPLINGS = ("linear", "log", "reverse_log")
KEYS = {
    "float": {"min", "max", "step", "sampling", "default"},
    "int": {"min", "max", "step", "sampling", "default"},
    "choice": {"values", "default"},
    "boolean": {"default"},
}


def label(value) -> str | int | float | bool:
    """A value as Keras Tuner can hold it: scalars as they are, lists as flow-style YAML."""
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return value


@dataclass(frozen=True)
class Parameter:
    """One searched config key."""

    key: str
    type: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    sampling: str = "linear"
    values: tuple = ()
    default: object = None
    when_key: str | None = None
    when_values: tuple = ()

    def declare(self, hp) -> None:
        """Registers this parameter in a keras_tuner.HyperParameters."""
        if self.when_key:
            with hp.conditional_scope(self.when_key, [label(v) for v in self.when_values]):
                self._declare(hp)
        else:
            self._declare(hp)

    def _declare(self, hp) -> None:
        if self.type == "float":
            hp.Float(
                self.key,
                min_value=float(self.min),
                max_value=float(self.max),
                step=self.step,
                sampling=self.sampling,
                default=None if self.default is None else float(self.default),
            )
        elif self.type == "int":
            hp.Int(
                self.key,
                min_value=int(self.min),
                max_value=int(self.max),
                step=None if self.step is None else int(self.step),
                sampling=self.sampling,
                default=None if self.default is None else int(self.default),
            )
        elif self.type == "choice":
            hp.Choice(
                self.key,
                [label(v) for v in self.values],
                ordered=False,
                default=None if self.default is None else label(self.default),
            )
        else:
            hp.Boolean(self.key, default=bool(self.default))

    def value_of(self, held) -> object:
        """The config value for what Keras Tuner holds."""
        if self.type == "choice":
            return next(v for v in self.values if label(v) == held)
        if self.type == "float":
            # 0.006846, not 0.0068456536131317035; 0.3, not 0.30000000000000004 on a step
            return float(f"{held:.4g}") if self.step is None else float(f"{held:.12g}")
        return held


@dataclass(frozen=True)
class SearchSpace:
    parameters: tuple[Parameter, ...]
    during_search: dict  # config key -> value, for the trials only

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.parameters)

    def declare(self, hp) -> None:
        for parameter in self.parameters:
            parameter.declare(hp)

    def assignments(self, values: dict) -> dict:
        """Config key -> value for a trial's active hyperparameter values."""
        return {p.key: p.value_of(values[p.key]) for p in self.parameters if p.key in values}


def _numbers(key: str, spec: dict) -> None:
    where = f"search.space.{key}"
    for bound in ("min", "max"):
        value = spec.get(bound)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where}: needs a number '{bound}' (got {value!r}).")
    if spec["min"] >= spec["max"]:
        raise ConfigError(f"{where}: min={spec['min']} must be below max={spec['max']}.")
    sampling = spec.get("sampling", "linear")
    if sampling not in SAMPLINGS:
        raise ConfigError(f"{where}: sampling={sampling!r}: expected one of {SAMPLINGS}.")
    if sampling != "linear" and spec["min"] <= 0:
        raise ConfigError(f"{where}: sampling={sampling} needs min > 0.")
    step = spec.get("step")
    if step is not None and (not isinstance(step, (int, float)) or step <= 0):
        raise ConfigError(f"{where}: step={step!r} must be a positive number.")
    default = spec.get("default")
    if default is not None and not spec["min"] <= default <= spec["max"]:
        raise ConfigError(f"{where}: default={default} is outside [{spec['min']}, {spec['max']}].")


def _choice_values(key: str, spec: dict) -> tuple:
    values = spec.get("values")
    if not isinstance(values, list) or not values:
        raise ConfigError(f"search.space.{key}: a choice needs a non-empty list 'values'.")
    labels = [label(v) for v in values]
    if len(set(map(str, labels))) != len(labels):
        raise ConfigError(f"search.space.{key}: values repeat: {values}.")
    numeric = all(map(is_number, labels))
    if numeric and any(isinstance(v, float) for v in labels):
        values = [float(v) for v in values]  # one type, as Keras Tuner requires
    elif len({type(v) for v in labels}) > 1:
        raise ConfigError(
            f"search.space.{key}: values mix types ({values}); use one type, or quote them."
        )
    if "default" in spec and spec["default"] not in values:
        raise ConfigError(f"search.space.{key}: default={spec['default']!r} is not in values.")
    return tuple(values)


def _parameter(key: str, spec, known: tuple[str, ...]) -> Parameter:
    where = f"search.space.{key}"
    if not isinstance(spec, dict) or spec.get("type") not in TYPES:
        raise ConfigError(f"{where}: expected a mapping with type one of {TYPES}; got {spec!r}.")
    kind = spec["type"]
    when = spec.get("when") or {}
    unknown = set(spec) - KEYS[kind] - {"type", "when"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown keys {sorted(unknown)} for type {kind}; "
            f"allowed: {sorted(KEYS[kind] | {'when'})}."
        )
    if kind in ("float", "int"):
        _numbers(key, spec)
    values = _choice_values(key, spec) if kind == "choice" else ()
    if not isinstance(when, dict) or len(when) > 1:
        raise ConfigError(f"{where}: when must map one earlier key to its values, got {when!r}.")
    when_key, when_values = next(iter(when.items()), (None, ()))
    if when_key is not None and when_key not in known:
        raise ConfigError(
            f"{where}: when refers to {when_key!r}, which is not searched before it "
            f"(searched so far: {list(known)})."
        )
    if when_key is not None and not isinstance(when_values, list):
        when_values = [when_values]
    return Parameter(
        key=key,
        type=kind,
        min=spec.get("min"),
        max=spec.get("max"),
        step=spec.get("step"),
        sampling=spec.get("sampling", "linear"),
        values=values,
        default=spec.get("default"),
        when_key=when_key,
        when_values=tuple(when_values),
    )


def parse_search_space(cfg: DictConfig) -> SearchSpace:
    """The `search` section as a SearchSpace.

    Raises:
        ConfigError: for a malformed parameter, naming its key and what is expected.
    """
    section = OmegaConf.to_container(cfg.get("search") or {}, resolve=True)
    unknown = set(section) - {"space", "during_search"}
    if unknown:
        raise ConfigError(f"search: unknown keys {sorted(unknown)}; expected space, during_search.")
    space = section.get("space") or {}
    if not isinstance(space, dict) or not space:
        raise ConfigError("search.space is empty: name at least one config key to search.")
    parameters: list[Parameter] = []
    for key, spec in space.items():
        parameters.append(_parameter(key, spec, tuple(p.key for p in parameters)))
    for parameter in parameters:
        if parameter.when_key:
            allowed = next(p for p in parameters if p.key == parameter.when_key).values
            missing = [v for v in parameter.when_values if allowed and v not in allowed]
            if missing:
                raise ConfigError(
                    f"search.space.{parameter.key}: when {parameter.when_key} in {missing}, "
                    f"but {parameter.when_key} only takes {list(allowed)}."
                )
    during_search = section.get("during_search") or {}
    if not isinstance(during_search, dict):
        raise ConfigError("search.during_search must map config keys to values.")
    return SearchSpace(parameters=tuple(parameters), during_search=during_search)
