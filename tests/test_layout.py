"""The package's shape: command names in one place, the serving boundary, config options
derived from conf/ (no test types a list of options again)."""

from __future__ import annotations

import subprocess
import sys

import tomllib
from conftest import REPO_ROOT

from mnist_exp.commands import COMMANDS, python_argv


def test_console_scripts_match_the_command_table():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {command.script: command.target for command in COMMANDS.values()}


def test_every_command_answers_help_by_its_module():
    for name in ("resume", "compare", "board", "ensemble", "bench", "launch", "tune-launch"):
        result = subprocess.run(
            [*python_argv(name), "--help"], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, (name, result.stderr[-2000:])
        assert COMMANDS[name].script in result.stdout, name


def test_serving_side_modules_never_import_training_tuning_or_hydra():
    """Run-loading and inference code is what serving builds on: it must stay light."""
    probe = (
        "import sys\n"
        "import mnist_exp.runs.load, mnist_exp.models.inference, mnist_exp.data.arrays\n"
        "bad = [m for m in sys.modules if m.startswith(('mnist_exp.training', "
        "'mnist_exp.tuning', 'hydra', 'keras_tuner'))]\n"
        "print(sorted(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
