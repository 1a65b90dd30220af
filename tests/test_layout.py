"""The package's shape: command names in one place, the serving boundary, config options
derived from conf/ (no test types a list of options again)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib

import pytest
from conftest import REPO_ROOT

from mnist_exp.commands import COMMANDS, python_argv


def test_each_command_parses_its_line_in_its_own_module():
    """mnist_exp/cli/NAME.py are the commands (mnist_exp/__main__.py starts three of them);
    every other module is a library and parses no argv."""
    package = REPO_ROOT / "mnist_exp"
    commands = {package / "__main__.py", package / "cli" / "train.py"}
    for command in COMMANDS.values():
        module, _, function = command.target.partition(":")
        if module != "mnist_exp.__main__":
            assert module == command.module and function == "main", command
        if command.module != "mnist_exp":
            assert command.module.startswith("mnist_exp.cli."), command
            commands.add(package / "cli" / f"{command.module.removeprefix('mnist_exp.cli.')}.py")
    assert all(path.is_file() for path in commands)
    parsing = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path not in commands and "import argparse" in path.read_text()
    ]
    assert parsing == []


def test_no_top_level_module_is_named_like_a_module_beneath():
    package = REPO_ROOT / "mnist_exp"
    top = {path.stem for path in package.glob("*.py")} - {"__init__", "__main__"}
    beneath = {path.stem for path in package.glob("*/**/*.py")}
    assert top & beneath == set()


def test_console_scripts_match_the_command_table():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {command.script: command.target for command in COMMANDS.values()}


@pytest.mark.slow
def test_every_command_answers_help_by_its_module():
    names = ("resume", "compare", "board", "ensemble", "launch", "tune-launch")
    for name in (*names, "export", "predict", "serve"):
        result = subprocess.run(
            [*python_argv(name), "--help"], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, (name, result.stderr[-2000:])
        assert COMMANDS[name].script in result.stdout, name


FORBIDDEN_IN_SERVING = ("mnist_exp.training", "mnist_exp.tuning", "hydra", "keras_tuner")


def loaded_after_importing(modules: list[str], watched: tuple[str, ...]) -> list[str]:
    """The modules of `watched` (names or prefixes) a fresh Python has loaded after importing
    `modules`."""
    probe = (
        f"import sys, {', '.join(modules)}\n"
        f"print(sorted(m for m in sys.modules if m.startswith({watched!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_serving_side_modules_never_import_training_tuning_or_hydra():
    """Run-loading and inference code is what serving builds on: it must stay light."""
    modules = [
        "mnist_exp.runs.load", "mnist_exp.models.inference", "mnist_exp.data.arrays",
        "mnist_exp.serving.predictors", "mnist_exp.serving.prediction_output",
        "mnist_exp.imaging.decode", "mnist_exp.imaging.preprocess", "mnist_exp.cli.predict",
    ]  # fmt: skip
    assert loaded_after_importing(modules, FORBIDDEN_IN_SERVING) == []


def test_predicting_and_serving_start_without_tensorflow_or_pandas():
    """A .tflite or .onnx model needs neither: their imports would be most of the start."""
    modules = ["mnist_exp.cli.predict", "mnist_exp.cli.serve", "mnist_exp.serving.predictors"]
    heavy = ("tensorflow", "keras", "pandas", "matplotlib")
    assert loaded_after_importing(modules, heavy) == []


def imported_modules(path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_serving_code_imports_training_tuning_or_hydra_even_lazily():
    package = REPO_ROOT / "mnist_exp"
    files = [
        *(package / "serving").glob("*.py"),
        *(package / "imaging").glob("*.py"),
        package / "runs" / "load.py",
        package / "models" / "files.py",
        package / "models" / "graph_check.py",
        package / "cli" / "predict.py",
        package / "cli" / "serve.py",
    ]
    offending = {
        str(path.relative_to(REPO_ROOT)): sorted(
            name for name in imported_modules(path) if name.startswith(FORBIDDEN_IN_SERVING)
        )
        for path in files
    }
    assert {path: names for path, names in offending.items() if names} == {}


def _tensorflow_start_up(**env_overrides) -> tuple[str, str]:
    import os

    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(env_overrides)
    code = "import mnist_exp, os, tensorflow; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return result.stdout.strip(), result.stderr


@pytest.mark.slow
def test_tensorflow_info_lines_are_dropped_but_a_users_level_wins():
    level, quiet = _tensorflow_start_up()
    assert level == "1"
    level, chatty = _tensorflow_start_up(TF_CPP_MIN_LOG_LEVEL="0")
    assert level == "0"
    if "cpu_feature_guard" in chatty:  # printed only on CPUs with instructions TF was not built for
        assert "cpu_feature_guard" not in quiet


MAX_FUNCTION_LINES = 60  # of code: docstrings, comments and blank lines aside


def code_lines(source: list[str], function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = function.body[0]
    docstring = (
        range(first.lineno, first.end_lineno + 1)
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        else range(0)
    )  # fmt: skip
    return sum(
        1
        for number in range(function.lineno, function.end_lineno + 1)
        if number not in docstring
        and source[number - 1].strip()
        and not source[number - 1].strip().startswith("#")
    )


def test_no_function_is_longer_than_a_screen():
    long = []
    for path in sorted((REPO_ROOT / "mnist_exp").rglob("*.py")):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                count = code_lines(text.splitlines(), node)
                if count > MAX_FUNCTION_LINES:
                    long.append(
                        f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name} ({count})"
                    )
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines of code: {long}"


# docs/architecture.md's table: what each folder of the package may import from it.
MAY_IMPORT = {
    "settings": {"models"},
    "imaging": set(),
    "models": set(),
    "data": {"imaging", "settings"},
    "runs": {"data", "models", "settings"},
    "tracking": {"runs", "settings"},
    "reporting": {"runs", "tracking"},
    "training": {"data", "models", "reporting", "runs", "settings", "tracking"},
    "tuning": {"reporting", "runs", "settings", "tracking", "training"},
    "serving": {"data", "imaging", "models", "runs"},
    "exporting": {"data", "runs", "serving", "settings"},
    "distributed": set(),
}


def test_each_folder_imports_only_what_the_architecture_allows():
    package = REPO_ROOT / "mnist_exp"
    folders = {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}
    assert folders - {"cli", "conf"} == set(MAY_IMPORT), "docs/architecture.md lists every folder"
    breaches = {}
    for folder, allowed in MAY_IMPORT.items():
        for path in (package / folder).rglob("*.py"):
            used = {name.split(".")[1] for name in imported_modules(path)
                    if name.startswith("mnist_exp.") and name.split(".")[1] in folders}  # fmt: skip
            if used - allowed - {folder}:
                breaches[str(path.relative_to(package))] = sorted(used - allowed - {folder})
    top = [path for path in package.glob("*.py") if path.name != "__main__.py"]
    for path in top:
        used = {name.split(".")[1] for name in imported_modules(path)
                if name.startswith("mnist_exp.") and name.split(".")[1] in folders}  # fmt: skip
        if used:
            breaches[path.name] = sorted(used)
    assert breaches == {}
