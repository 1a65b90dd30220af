"""Functions and classes named in config as "module.Name" (`model._target_`, a built-in
option's builder or loader, an optimizer, a callback): found and imported the way a user's
own are.

The module is found where `python -m` would find it: installed, on PYTHONPATH, or in the
working directory (console scripts do not put it on sys.path by themselves). Before anything
is imported (`find_target`, `read_parameters`), its source is read instead: a misspelt name is
refused before TensorFlow starts.
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


def _module_file(module: str) -> Path | None:
    """The source file of `module`, found without importing it or the packages above it
    (which may start TensorFlow); None for a module that is not plain Python source."""
    top, *parts = module.split(".")
    spec = importlib.util.find_spec(top)  # a top-level module: found, not imported
    if spec is None:
        return None
    path = Path(spec.origin) if spec.origin else None
    folders = [Path(folder) for folder in spec.submodule_search_locations or ()]
    for part in parts:
        found = [
            candidate
            for folder in folders
            for candidate in (folder / part / "__init__.py", folder / f"{part}.py")
            if candidate.is_file()
        ]
        if not found:
            return None
        path = found[0]
        folders = [path.parent] if path.name == "__init__.py" else []
    return path if path is not None and path.suffix == ".py" else None


def _syntax_tree(path: Path, module: str, target: str, key: str) -> ast.Module | None:
    """The syntax tree of `module` (`target`'s), whose source is `path` (None: unreadable).

    Raises:
        ConfigError: the source is not Python that would import (a syntax error, binary
            bytes), as the import would say.
    """
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError) as error:  # as the import would fail, only sooner
        raise ConfigError(
            f"{key}={target}: importing '{module}' failed: {type(error).__name__}: {error}"
        ) from None
    except OSError:
        return None


# Names through which a module can bind names its source does not spell out.
_DYNAMIC = {"globals", "vars", "locals", "exec", "eval", "setattr", "__getattr__", "__dict__"}


def _bound_names(tree: ast.Module) -> set[str] | None:
    """The names a module binds at its top level when it runs (definitions, imports,
    assignments, loop and `with` targets, at any depth outside functions and classes); None
    when it may bind others (a star import, `globals()`, a module `__getattr__`...)."""
    if any(isinstance(node, ast.Name) and node.id in _DYNAMIC for node in ast.walk(tree)):
        return None
    names: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue  # what their bodies bind is their own
        if isinstance(node, ast.alias):
            if node.name == "*":
                return None
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Lambda):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return None if "__getattr__" in names else names


def find_target(target: str, key: str) -> ast.Module | None:
    """Checks, without importing anything, that `target`'s module can be imported and, where
    its source says which names it binds, that it binds `target`'s name.

    Returns:
        The module's syntax tree (None for a module that is not Python source).

    Raises:
        ConfigError: naming `key`: the module is not found, its source would not import, or
            it has no such name.
    """
    find_module(target, key)
    module, name = _split(target, key)
    path = _module_file(module)
    tree = _syntax_tree(path, module, target, key) if path else None
    if tree is None:
        return None
    names = _bound_names(tree)
    if names is not None and name not in names:
        raise ConfigError(f"{key}={target}: module '{module}' ({path}) has no '{name}'.")
    return tree


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
        ConfigError: as `find_target`.
    """
    tree = find_target(target, key)
    if tree is None:
        return None
    attribute = _split(target, key)[1]
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
