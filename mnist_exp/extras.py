"""The optional parts of mnist_exp and the packages each needs (pyproject.toml's extras):
a command whose extra is missing says which one to install, in one line, exit status 2."""

from __future__ import annotations

import importlib.util
import sys

from mnist_exp.errors import MnistExpError
from mnist_exp.exits import REFUSED

EXTRAS = {
    "serve": ("fastapi", "uvicorn", "python_multipart", "gradio"),
    "export": ("tf2onnx", "onnxruntime", "ai_edge_litert"),
    "mlflow": ("mlflow",),
}


class MissingExtra(MnistExpError):
    """A command or model format needs an extra that is not installed."""


def require(extra: str, modules: tuple[str, ...] | None = None) -> None:
    """Raises MissingExtra when a module of `extra` (or the given ones) is not installed."""
    missing = [name for name in modules or EXTRAS[extra] if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtra(
            f"this needs mnist_exp's '{extra}' extra ({', '.join(missing)} not installed): "
            f"pip install 'mnist_exp[{extra}]'"
        )


def require_for_command(extra: str, command: str) -> None:
    """For a console script: one line and exit status 2 when `extra` is not installed."""
    try:
        require(extra)
    except MissingExtra as error:
        print(f"{command}: {error}", file=sys.stderr)
        sys.exit(REFUSED)
