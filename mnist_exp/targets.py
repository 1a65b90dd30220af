"""Functions named in config as "module.function" (`model._target_`, a built-in option's
builder or loader): found and imported the way a user's own are.

The module is found where `python -m` would find it: installed, on PYTHONPATH, or in the
working directory (console scripts do not put it on sys.path by themselves).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mnist_exp.errors import ConfigError


def _split(target: str, key: str) -> tuple[str, str]:
    module, _, attribute = target.rpartition(".")
    if not module or not attribute:
        raise ConfigError(
            f"{key}={target!r} must name a function as module.function (e.g. my_nets.build_tiny)."
        )
    return module, attribute


def find_module(target: str, key: str) -> None:
    """Checks, without importing it, that the module of `target` can be imported, adding
    the working directory to sys.path as `python -m` does when it is needed there.

    Raises:
        ConfigError: naming `key`, the module and where it was looked for.
    """
    module, _ = _split(target, key)
    top = module.split(".")[0]
    if importlib.util.find_spec(top) is None and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
        importlib.invalidate_caches()
    if importlib.util.find_spec(top) is None:
        raise ConfigError(
            f"{key}={target}: no module named '{top}' in the working directory "
            f"({os.getcwd()}), on PYTHONPATH or installed. Put {top}.py there, or install it."
        )


def import_target(target: str, key: str) -> Callable:
    """The function `target` names (`key` is the config key that names it, for messages).

    Raises:
        ConfigError: the module cannot be imported (with what Python said) or has no such
            function.
    """
    find_module(target, key)
    module_name, attribute = _split(target, key)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ConfigError(
            f"{key}={target}: importing '{module_name}' failed: {type(error).__name__}: {error}"
        ) from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ConfigError(
            f"{key}={target}: module '{module_name}' ({module.__file__}) has no "
            f"function '{attribute}'."
        )
    return function


@dataclass(frozen=True)
class Parameters:
    """A function's parameters as its source writes them: each name with its annotation's
    last name (`Rate` for `dropout_rate: Rate`; None without one), the ones without a
    default, and whether it takes any keyword (`**kwargs`)."""

    annotations: dict[str, str | None]
    required: tuple[str, ...]
    any_keyword: bool


def read_parameters(target: str, key: str) -> Parameters | None:
    """The parameters of the function `target` names, read from its module's source without
    running it (no TensorFlow start for a builder's checks); None when the source does not
    define it with a plain `def`, or is not Python source.

    Raises:
        ConfigError: the module cannot be found (see `find_module`), or its source is not
            Python that would import (a syntax error, binary bytes).
    """
    find_module(target, key)
    module, attribute = _split(target, key)
    try:
        origin = str(importlib.util.find_spec(module).origin)
        source = Path(origin).read_bytes() if origin.endswith(".py") else None
    except Exception:  # a package's own import failing is reported when it is imported
        return None
    if source is None:
        return None
    try:
        tree = ast.parse(source, filename=origin)
    except (SyntaxError, ValueError) as error:  # as the import would fail, only sooner
        raise ConfigError(
            f"{key}={target}: importing '{module}' failed: {type(error).__name__}: {error}"
        ) from None
    found = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == attribute
    ]
    if not found:
        return None
    arguments = found[-1].args
    positional = [*arguments.posonlyargs, *arguments.args]
    with_defaults = len(arguments.defaults)
    required = [a.arg for a in positional[: len(positional) - with_defaults]]
    required += [
        a.arg
        for a, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
        if default is None
    ]
    return Parameters(
        annotations={
            a.arg: ast.unparse(a.annotation).rpartition(".")[2] if a.annotation else None
            for a in [*positional, *arguments.kwonlyargs]
        },
        required=tuple(required),
        any_keyword=arguments.kwarg is not None,
    )
