"""Every default that README.md and docs/ write down is the config's default: a change of
either without the other fails here, naming the file, the words and the config's value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import compose_config
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from mnist_exp.settings import CONFIG_DIR

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# `| `model` | `mlp`, `cnn_bn` (default), ...` and "`tuner=` `random` (default)"
GROUP_ROW = re.compile(r"^\| `(\w+)` \|[^|]*?`(\w+)` \(default\)", re.MULTILINE)
GROUP_CHOICE = re.compile(r"`(\w+)=` `(\w+)` \(default\)")
# "`trainer.checkpoint_monitor` (default `val_accuracy`", "`objective` (default `val_accuracy`"
KEY_DEFAULT = re.compile(r"`([a-z_.]+)` \(default `([^`]+)`")
# "`dataset.small_below` (2000)"
KEY_NUMBER = re.compile(r"`([a-z_]+\.[a-z_.]+)` \((\d+)\)")
# the rows of a `| key | default | ... |` table: "| `dataset.recipe` | `as_is` | ..."
DEFAULTS_TABLE = re.compile(r"^\| key \| default \|.*\n(?:\|.*\n)+", re.MULTILINE)
TABLE_ROW = re.compile(r"^\| `([a-z_.]+)` \| `([^`]+)`", re.MULTILINE)
# Defaults written in prose: (file, the words, config key, the value they state).
PROSE = [
    ("README.md", "the default: cnn_bn, Adam one-cycle, 8 epochs", "trainer.epochs", 8),
    ("docs/data.md", "MNIST's defaults (batch 128, 8 epochs,", "trainer.batch_size", 128),
    ("docs/data.md", "MNIST's defaults (batch 128, 8 epochs,", "trainer.epochs", 8),
    (
        "docs/data.md",
        "early stopping, no augmentation)",
        "callbacks.early_stopping._target_",
        "keras.callbacks.EarlyStopping",
    ),
    ("docs/data.md", "by default\n1/12 of the training images", "dataset.validation_size", None),
    ("docs/tuning.md", "(default `val_accuracy`, `max`;", "objective.direction", "max"),
]


def _written(pattern: re.Pattern, within: re.Pattern | None = None) -> list[tuple[str, ...]]:
    found = []
    for path in DOCS:
        text = path.read_text()
        parts = [match.group(0) for match in within.finditer(text)] if within else [text]
        for part in parts:
            found += [
                (path.relative_to(ROOT).as_posix(), *m.groups()) for m in pattern.finditer(part)
            ]
    return found


def _config_defaults(config_name: str) -> dict[str, str]:
    defaults = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / f"{config_name}.yaml"))
    return {
        group: option
        for entry in defaults["defaults"]
        if isinstance(entry, dict)
        for group, option in entry.items()
    }


def _value(key: str):
    """The key's default value: in the default config, else with the group option that has it
    (a folder's keys are in `dataset=folder` only)."""
    missing = object()
    found = OmegaConf.select(compose_config(), key, default=missing)
    if found is not missing:
        return found
    group = key.split(".")[0]
    for option in sorted((CONFIG_DIR / group).glob("*.yaml")):
        found = OmegaConf.select(compose_config(f"{group}={option.stem}"), key, default=missing)
        if found is not missing:
            return found
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return OmegaConf.select(compose(config_name="tune"), key, default=missing)


def test_the_docs_write_defaults_the_patterns_find():
    """The checks below read something: a pattern that stopped matching would pass unseen."""
    assert len(_written(GROUP_ROW)) >= 6 and _written(GROUP_CHOICE)
    assert len(_written(KEY_DEFAULT)) >= 2 and _written(KEY_NUMBER)
    assert len(_written(TABLE_ROW, DEFAULTS_TABLE)) >= 4


@pytest.mark.parametrize(
    ("source", "group", "option"), _written(GROUP_ROW) + _written(GROUP_CHOICE)
)
def test_each_group_default_written_is_the_configs(source, group, option):
    chosen = {**_config_defaults("config"), **_config_defaults("tune")}
    assert chosen.get(group) == option, (
        f"{source} says {group}={option} is the default; the config chooses {chosen.get(group)}"
    )


@pytest.mark.parametrize(
    ("source", "key", "written"),
    _written(KEY_DEFAULT) + _written(KEY_NUMBER) + _written(TABLE_ROW, DEFAULTS_TABLE),
)
def test_each_key_default_written_is_the_configs(source, key, written):
    key = {"objective": "objective.metric"}.get(key, key)
    value = _value(key)
    shown = "null" if value is None else str(value)
    assert shown == written, f"{source} says {key} defaults to {written}; the config: {shown}"


@pytest.mark.parametrize(("source", "words", "key", "value"), PROSE)
def test_each_default_written_in_prose_is_the_configs(source, words, key, value):
    text = " ".join((ROOT / source).read_text().split())
    assert " ".join(words.split()) in text, f"{source} no longer says {words!r}: update PROSE"
    assert _value(key) == value, f"{source}: {words!r}, but {key} is {_value(key)!r}"
