"""Users' own config folders (`--config-dir DIR`, Hydra's own option): checked before Hydra
starts, so a folder that does not exist is one line and exit status 2, not a Hydra error."""

from __future__ import annotations

import sys
from pathlib import Path

from mnist_exp.exits import REFUSED

OPTIONS = ("--config-dir", "-cd")


def config_dirs(argv: list[str]) -> list[str]:
    """The folders named with --config-dir / -cd in `argv` (either `OPT DIR` or `OPT=DIR`)."""
    folders = []
    for index, argument in enumerate(argv):
        option, equals, value = argument.partition("=")
        if option in OPTIONS:
            if equals:
                folders.append(value)
            elif index + 1 < len(argv):
                folders.append(argv[index + 1])
    return folders


def refuse_missing_config_dirs(command: str, argv: list[str] | None = None) -> None:
    """Exits with status 2 and one line when a --config-dir folder does not exist."""
    for folder in config_dirs(sys.argv[1:] if argv is None else argv):
        if not Path(folder).is_dir():
            print(
                f"{command}: --config-dir {folder}: no such folder (from {Path.cwd()}). Give "
                "the folder that holds your config groups (model/, experiment/, ...).",
                file=sys.stderr,
            )
            sys.exit(REFUSED)
