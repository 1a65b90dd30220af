"""Mistakes in the overrides that Hydra would catch, answered before it starts as our own
checks answer: one line naming what was typed, the closest valid names, exit status 2.
`experiment=NAME` is taken as `+experiment=NAME` (presets are added, not chosen by default).
HYDRA_FULL_ERROR=1 leaves every mistake to Hydra, with its whole report."""

from __future__ import annotations

import difflib
import os
import re
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig

from mnist_exp import signals
from mnist_exp.exits import REFUSED
from mnist_exp.settings import CONFIG_DIR

TUNER_GROUPS = ("search", "tuner")
ADDED_GROUPS = ("experiment",)  # chosen with +GROUP=NAME; GROUP=NAME is taken as that
# Settings that moved (runs recorded before are read by runs.migrate): what to type now,
# by the longest key or group=option that an override starts with.
MOVED = {
    "trainer.early_stopping": "early stopping is the callbacks preset callbacks.early_stopping "
    "now: callbacks.early_stopping.KEY=VALUE (monitor, mode, patience, min_delta)",
    "trainer.early_stopping.enabled": "~callbacks.early_stopping turns early stopping off now",
    "trainer.early_stopping.restore_best_weights": "it is trainer.restore_best_weights now",
    "schedule=reduce_on_plateau": "it is a callbacks preset now: schedule=constant "
    "+callbacks=reduce_lr_on_plateau",
}


def with_added_groups(argv: list[str]) -> list[str]:
    """`argv` with `experiment=NAME` written as Hydra needs it, `+experiment=NAME`."""
    return [f"+{a}" if a.split("=", 1)[0] in ADDED_GROUPS and "=" in a else a for a in argv]


def answer_config_mistakes(command: str, config_name: str) -> None:
    """Rewrites sys.argv's added groups, then exits with one line and status 2 when the
    overrides would not compose. Help, --cfg and --info are left to Hydra."""
    sys.argv[1:] = with_added_groups(sys.argv[1:])
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        return
    arguments, _ = get_args_parser().parse_known_args(sys.argv[1:])
    if arguments.help or arguments.hydra_help or arguments.cfg or arguments.info:
        return
    problem = config_problem(config_name, arguments.overrides, arguments.config_dir)
    signals.raise_if_received()  # a stop noted while Hydra composed
    if problem:
        shown = problem.rstrip(".")
        print(
            f"{command}: {shown}. `{command} --help` lists every group's options.", file=sys.stderr
        )
        sys.exit(REFUSED)


def config_problem(config_name: str, overrides: list[str], config_dir: str | None) -> str | None:
    """What is wrong with `overrides` (None: they compose), in the user's words."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as error:
        return f"cannot read an override: {_first_line(str(error))}"
    searchpath = [f"hydra.searchpath=[file://{Path(config_dir).resolve()}]"] if config_dir else []
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()

        def options_of(group: str) -> list[str]:  # the package's and the user's folder's
            own = Path(config_dir or "/nonexistent") / group
            return sorted({*loader.get_group_options(group), *(p.stem for p in own.glob("*.yaml"))})

        for override in parsed:  # every value of a group's list sweep names an option
            values = (
                getattr(override.value(), "list", None) if override.is_sweep_override() else None
            )
            for value in values or ():
                options = options_of(override.key_or_group)
                if options and str(value) not in options:
                    return _no_such_option(override.key_or_group, str(value), options)
        single = [
            text for text, o in zip(overrides, parsed, strict=True) if not o.is_sweep_override()
        ]
        try:
            compose(config_name, overrides=[*searchpath, *single])
        except MissingConfigException as error:
            found = re.search(r"Could not find '(.+)/([^/']+)'", str(error))
            if found:
                group, option = found.groups()
                return _no_such_option(group, option, options_of(group))
            return _first_line(str(error))
        except HydraException as error:
            defaults = compose(config_name, overrides=searchpath)
            return _explain(str(error), defaults, config_name)
    return None


def _moved(typed: str) -> str | None:
    starts = [key for key in MOVED if typed == key or typed.startswith(f"{key}.")]
    return f"{typed}: {MOVED[max(starts, key=len)]}" if starts else None


def _no_such_option(group: str, option: str, options: list[str]) -> str:
    if moved := _moved(f"{group}={option}"):
        return moved
    close = difflib.get_close_matches(option, options, n=2, cutoff=0.5)
    guess = f"; did you mean {' or '.join(f'{group}={c}' for c in close)}?" if close else "."
    return f"{group}={option}: there is no such {group}{guess} The options: {', '.join(options)}"


def _explain(message: str, defaults: DictConfig, config_name: str) -> str:
    """Hydra's composition error, said in the user's words with the closest names."""
    key = re.search(r"Could not override '([^']+)'", message)
    if key and "No match in the defaults list" in message:
        name = key.group(1)
        if config_name == "config" and name in TUNER_GROUPS:
            return f"{name}=...: {name} is a choice of the tuner (mnist-exp-tune), not of training"
        return f"{name}=...: no {name} is chosen by default; add one with +{name}=NAME"
    if key and (moved := _moved(key.group(1))):
        return moved
    if key:
        name = key.group(1)
        parts, node, depth = name.split("."), defaults, 0
        while depth < len(parts) - 1 and isinstance(node, DictConfig) and parts[depth] in node:
            node, depth = node[parts[depth]], depth + 1  # down to the first part that is not
        keys = list(node) if isinstance(node, DictConfig) else []
        if depth < len(parts) - 1:  # more parts follow: only a section can hold them
            keys = [k for k in keys if isinstance(node._get_node(k), DictConfig)]
        close = difflib.get_close_matches(parts[depth], keys, n=2, cutoff=0.5)
        named = [".".join([*parts[:depth], c, *parts[depth + 1 :]]) for c in close]
        guess = f"; did you mean {' or '.join(named)}?" if close else "."
        return f"{name}: the config has no such key{guess} (+{name}=VALUE adds a key of your own)"
    taken = re.search(r"An item is already at '([^']+)'", message)
    if taken:
        name = taken.group(1)
        return f"+{name}=...: {name} is already set; drop the + to change it ({name}=VALUE)"
    multiple = re.search(r"Multiple values for (\S+)\.", message)
    if multiple:
        group = multiple.group(1)
        return (
            f"+{group}=...: {group} is already chosen; drop the + to choose another ({group}=NAME)"
        )
    return _first_line(message)


def _first_line(message: str) -> str:
    """A Hydra error's first line; its message can be empty (an exception raised inside
    OmegaConf without one)."""
    return (message.splitlines() or ["Hydra could not compose the config"])[0]
