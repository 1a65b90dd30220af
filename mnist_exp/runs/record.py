"""A run's record: the config it was started with, written once by the process that holds
the run, and never changed afterwards.

Hydra's own `.hydra/` writer is switched off (`hydra.output_subdir: null`): it would rewrite
the record of an existing run before any check could refuse the new command. The files and
their layout are Hydra's (config.yaml, hydra.yaml, overrides.yaml), so every tool that reads
Hydra run directories reads these.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from mnist_exp.runs.migrate import upgraded_config
from mnist_exp.safe_files import append_unlinked, write_text_atomically

RECORD_DIR = Path(".hydra")
CONFIG_FILE = RECORD_DIR / "config.yaml"
HYDRA_FILE = RECORD_DIR / "hydra.yaml"
OVERRIDES_FILE = RECORD_DIR / "overrides.yaml"
LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"


def has_record(run_dir: Path) -> bool:
    return (Path(run_dir) / CONFIG_FILE).is_file()


def write_record(run_dir: Path, cfg: DictConfig, hydra: DictConfig | dict, overrides) -> None:
    """Writes the run's config, Hydra's settings and the command line's overrides.

    Call it once, while holding the run (see `mnist_exp.runs.lock`), before training starts.
    Interpolations are saved unresolved, so values read from the environment never reach disk.
    """
    run_dir = Path(run_dir)
    write_text_atomically(run_dir / CONFIG_FILE, OmegaConf.to_yaml(cfg))
    write_text_atomically(run_dir / HYDRA_FILE, OmegaConf.to_yaml({"hydra": hydra}))
    write_text_atomically(run_dir / OVERRIDES_FILE, OmegaConf.to_yaml(list(overrides)))


def read_config(run_dir: Path) -> DictConfig:
    """The run's config as the current version reads it (`migrate.upgraded_config`)."""
    return upgraded_config(OmegaConf.load(Path(run_dir) / CONFIG_FILE))


def read_choices(run_dir: Path) -> dict:
    """Hydra's config-group choices of the run ({} for a run recorded without them).

    Read as plain YAML with libyaml: the choices are names, and OmegaConf's loader made this
    file (Hydra's settings, 4 KB) two thirds of the time `compare` spent per run."""
    try:
        with open(Path(run_dir) / HYDRA_FILE) as stream:
            saved = yaml.load(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return dict(saved["hydra"]["runtime"]["choices"])
    except Exception:
        return {}


def read_overrides(run_dir: Path) -> list[str]:
    path = Path(run_dir) / OVERRIDES_FILE
    return list(OmegaConf.to_container(OmegaConf.load(path))) if path.is_file() else []


def _leaves(node, prefix: str = "") -> dict:
    if isinstance(node, dict):
        leaves = {}
        for key, value in node.items():
            leaves.update(_leaves(value, f"{prefix}{key}."))
        return leaves
    return {prefix[:-1]: node}


def config_differences(saved: DictConfig, new: DictConfig) -> list[str]:
    """'key: saved -> new' for every leaf that differs (empty when the configs are equal).
    Interpolations are compared as written, unresolved."""
    before = _leaves(OmegaConf.to_container(saved, resolve=False))
    after = _leaves(OmegaConf.to_container(new, resolve=False))
    return [
        f"{key}: {before.get(key, '(absent)')!r} -> {after.get(key, '(absent)')!r}"
        for key in sorted(set(before) | set(after))
        if before.get(key, "(absent)") != after.get(key, "(absent)")
    ]


@contextmanager
def logging_into(run_dir: Path, name: str) -> Iterator[None]:
    """While the block runs, the root logger's records are appended to RUN_DIR/NAME.log too
    (Hydra's format); the run's log is detached when it ends, however it ends."""
    handler = logging.StreamHandler(append_unlinked(Path(run_dir) / f"{name}.log"))
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
