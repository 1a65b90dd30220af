"""The commands users type, named once.

Console scripts (pyproject.toml's [project.scripts], checked against this table by a test),
messages, hints and subprocess calls all take a command's name from here, so moving a module
never changes what a user types or what a message tells them to type.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    script: str  # the console script
    module: str  # `python -m MODULE` runs the same thing
    target: str  # the console script's entry point, "module:function"; the commands that
    # start runs are started from mnist_exp/__main__.py, which answers a stop from their first line


COMMANDS = {
    "train": Command("mnist-exp", "mnist_exp", "mnist_exp.__main__:main"),
    "resume": Command("mnist-exp-resume", "mnist_exp.cli.resume", "mnist_exp.__main__:resume"),
    "tune": Command("mnist-exp-tune", "mnist_exp.cli.tune", "mnist_exp.__main__:tune"),
    "compare": Command("mnist-exp-compare", "mnist_exp.cli.compare", "mnist_exp.cli.compare:main"),
    "board": Command("mnist-exp-board", "mnist_exp.cli.board", "mnist_exp.cli.board:main"),
    "ensemble": Command(
        "mnist-exp-ensemble", "mnist_exp.cli.ensemble", "mnist_exp.cli.ensemble:main"
    ),
    "launch": Command("mnist-exp-launch", "mnist_exp.cli.launch", "mnist_exp.cli.launch:main"),
    "export": Command("mnist-exp-export", "mnist_exp.cli.export", "mnist_exp.cli.export:main"),
    "predict": Command("mnist-exp-predict", "mnist_exp.cli.predict", "mnist_exp.cli.predict:main"),
    "serve": Command("mnist-exp-serve", "mnist_exp.cli.serve", "mnist_exp.cli.serve:main"),
    "init": Command("mnist-exp-init", "mnist_exp.cli.init", "mnist_exp.cli.init:main"),
    "track": Command("mnist-exp-track", "mnist_exp.cli.track", "mnist_exp.cli.track:main"),
    "tune-launch": Command(
        "mnist-exp-tune-launch", "mnist_exp.cli.tune_launch", "mnist_exp.cli.tune_launch:main"
    ),
}


def shown(name: str) -> str:
    """The command as messages and help texts show it, e.g. 'mnist-exp-resume'."""
    return COMMANDS[name].script


def python_argv(name: str) -> list[str]:
    """The command as a subprocess runs it: this interpreter with `-m MODULE`, so it works
    whether or not the console scripts are on PATH."""
    return [sys.executable, "-m", COMMANDS[name].module]
