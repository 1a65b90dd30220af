"""Models from builder functions: a built-in one (`mnist_exp.models.cnn.build_model`) or the
user's own, named by a config's `model._target_` (`my_nets.build_tiny`); either is called with
`input_shape` and `num_classes` from the framework and the option's other keys as keyword
arguments, and what it returns is checked.

The module is found where `python -m` would find it: installed, on PYTHONPATH, or in the
working directory (console scripts do not put it on sys.path by themselves).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable

from mnist_exp.errors import ConfigError

FRAMEWORK_ARGUMENTS = ("input_shape", "num_classes")


def _split(target: str) -> tuple[str, str]:
    module, _, attribute = target.rpartition(".")
    if not module or not attribute:
        raise ConfigError(
            f"model._target_={target!r} must name a function as module.function "
            "(e.g. my_nets.build_tiny)."
        )
    return module, attribute


def find_module(target: str) -> None:
    """Checks, without importing it, that the module of `target` can be imported, adding
    the working directory to sys.path as `python -m` does when it is needed there.

    Raises:
        ConfigError: naming the module and where it was looked for.
    """
    module, _ = _split(target)
    top = module.split(".")[0]
    if importlib.util.find_spec(top) is None and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
        importlib.invalidate_caches()
    if importlib.util.find_spec(top) is None:
        raise ConfigError(
            f"model._target_={target}: no module named '{top}' in the working directory "
            f"({os.getcwd()}), on PYTHONPATH or installed. Put {top}.py there, or install it."
        )


def import_builder(target: str) -> Callable:
    """The function `target` names.

    Raises:
        ConfigError: the module cannot be imported (with what Python said) or has no such
            function.
    """
    find_module(target)
    module_name, attribute = _split(target)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ConfigError(
            f"model._target_={target}: importing '{module_name}' failed: "
            f"{type(error).__name__}: {error}"
        ) from None
    builder = getattr(module, attribute, None)
    if not callable(builder):
        raise ConfigError(
            f"model._target_={target}: module '{module_name}' ({module.__file__}) has no "
            f"function '{attribute}'."
        )
    return builder


def build_from_target(target: str, *, input_shape, num_classes: int, **arguments):
    """Calls the builder `target` names and checks what it returns.

    Raises:
        ConfigError: the builder refuses its arguments, returns no Keras model, or a model
            whose output does not have `num_classes` values.
    """
    import keras

    builder = import_builder(target)
    try:
        model = builder(input_shape=tuple(input_shape), num_classes=num_classes, **arguments)
    except TypeError as error:
        raise ConfigError(f"{target}(...) refused its arguments: {error}") from None
    if not isinstance(model, keras.Model):
        raise ConfigError(
            f"{target} returned {type(model).__name__}, not a keras.Model; a builder must "
            "return the (uncompiled) model."
        )
    outputs = tuple(model.output_shape)
    if outputs[-1] != num_classes or len(outputs) != 2:
        raise ConfigError(
            f"{target} built a model whose output has shape {outputs}; the data has "
            f"{num_classes} classes, so it must be (None, {num_classes}) (softmax "
            "probabilities)."
        )
    return model
