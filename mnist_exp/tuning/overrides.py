"""Hydra overrides: the user's, split into training and tuning ones, and trial values written
as overrides."""

from __future__ import annotations

import re

from hydra.core.override_parser.overrides_parser import OverridesParser

from mnist_exp.errors import ConfigError

TUNING_ROOTS = ("tuner", "search", "tuning", "hydra", "resume")
_PLAIN = re.compile(r"^[\w./:+-]+$")


def render_value(value) -> str:
    """A Python value in Hydra's override grammar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(render_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{render_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if _PLAIN.match(text) and text not in ("null", "true", "false"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(assignments: dict) -> list[str]:
    """`key=value` overrides for a mapping of config keys (or groups) to values."""
    return [f"{key}={render_value(value)}" for key, value in assignments.items()]


def override_key(override: str) -> str:
    """The key or group an override sets: 'model' for 'model=cnn', 'a.b' for '+a.b=1'."""
    parsed = OverridesParser.create().parse_overrides([override])[0]
    return parsed.key_or_group


def training_overrides(task_overrides: list[str], searched_keys: tuple[str, ...]) -> list[str]:
    """The user's overrides that shape the training config (not the tuner's own).

    Raises:
        ConfigError: for a key both set on the command line and searched.
    """
    kept = []
    for override in task_overrides:
        key = override_key(override)
        if key.split(".")[0].split("/")[0] in TUNING_ROOTS:
            continue
        if key in searched_keys:
            raise ConfigError(
                f"'{override}' sets {key}, which the search space varies; remove it from the "
                f"command line or from search.space."
            )
        kept.append(override)
    return kept
