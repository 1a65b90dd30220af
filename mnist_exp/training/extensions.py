"""The user's callbacks, metrics and loss (`mnist_exp.settings.extensions`) made into Keras
objects, each checked where it is made: a wrong name, arguments the class does not take, or
a loss or metric that does not fit the model's output is one ConfigError naming the config
key, before the first epoch."""

from __future__ import annotations

import functools
import importlib
import inspect
import re

import keras
import numpy as np

from mnist_exp.errors import ConfigError
from mnist_exp.settings.extensions import TargetSettings
from mnist_exp.targets import import_target


def _made(entry: TargetSettings, **defaults):
    factory = import_target(entry.target, f"{entry.key}._target_")
    arguments = {**defaults, **entry.keyword_arguments}
    try:
        return factory(**arguments)
    except Exception as error:
        shown = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
        raise ConfigError(
            f"{entry.key}: {entry.target}({shown}) failed: {type(error).__name__}: {error}"
        ) from None


def _of_kind(made, entry: TargetSettings, kind: type, expected: str):
    if not isinstance(made, kind):
        raise ConfigError(
            f"{entry.key}._target_={entry.target} made a {type(made).__name__}; expected "
            f"{expected}."
        )
    return made


def config_callbacks(entries: tuple[TargetSettings, ...]) -> list[keras.callbacks.Callback]:
    return [
        _of_kind(_made(entry), entry, keras.callbacks.Callback, "a keras.callbacks.Callback")
        for entry in entries
    ]


def user_metric(entry: TargetSettings) -> keras.metrics.Metric:
    """A fresh metric, named by its config entry (its history columns: NAME, val_NAME)."""
    made = _made(entry, name=entry.name)
    return _of_kind(made, entry, keras.metrics.Metric, "a keras.metrics.Metric")


def user_loss(entry: TargetSettings):
    """A Keras loss class made with the entry's keys, or a function `loss(y_true, y_pred)`
    itself (its other keyword arguments bound from the entry)."""
    factory = import_target(entry.target, f"{entry.key}._target_")
    if not inspect.isclass(factory):
        return functools.partial(factory, **entry.keyword_arguments)
    made = _made(entry)
    if not callable(made):
        raise ConfigError(f"loss._target_={entry.target} made a {type(made).__name__}, not a loss.")
    return made


def _refuse_one_hot(entry: TargetSettings) -> None:
    """Keras' one-hot classes (CategoricalAccuracy, CategoricalCrossentropy, TopK...) take
    integer labels without an error in some places and score them wrongly: refused, with the
    sparse class that fits named."""
    module, _, name = entry.target.rpartition(".")
    if module.startswith("keras.") and hasattr(importlib.import_module(module), f"Sparse{name}"):
        raise ConfigError(
            f"{entry.key}._target_={entry.target} takes one-hot labels, and this run's labels "
            f"are class numbers: use {module}.Sparse{name}."
        )


def check_fit(model: keras.Model, images: np.ndarray, settings) -> None:
    """Runs the user's loss and metrics once on the model's output for a few images.

    Raises:
        ConfigError: naming the entry that does not fit (integer labels, probabilities).
    """
    probabilities = model(images, training=False)
    labels = np.zeros((len(images),), dtype="int32")
    entries = [*settings.metrics, *([settings.loss] if settings.loss else [])]
    for entry in entries:
        _refuse_one_hot(entry)
        try:
            if entry is settings.loss:
                value = user_loss(entry)(labels, probabilities)
                np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")
            else:
                _metric_value(entry, labels, probabilities)
        except ConfigError:
            raise
        except Exception as error:
            message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", str(error)).strip()
            message = message.splitlines()[0] if message else ""
            raise ConfigError(
                f"{entry.key}._target_={entry.target} does not fit the model's output "
                f"(integer labels of shape {labels.shape}, class probabilities of shape "
                f"{tuple(probabilities.shape)}): {type(error).__name__}: {message}"
            ) from None


def test_values(
    entries: tuple[TargetSettings, ...], labels: np.ndarray, probabilities: np.ndarray
) -> dict[str, float]:
    """`test_NAME` for each metric, on the test set's labels and predicted probabilities."""
    return {f"test_{entry.name}": _metric_value(entry, labels, probabilities) for entry in entries}


def _metric_value(entry: TargetSettings, labels, probabilities) -> float:
    """A fresh instance of the entry's metric, over these labels and probabilities."""
    metric = user_metric(entry)
    metric.update_state(labels, probabilities)
    return float(keras.ops.convert_to_numpy(metric.result()))
