"""Model builders. Each module `mnist_exp.models.NAME` exposes `build_model` with one signature:

    build_model(input_shape, num_classes, *, l2_regularization, **architecture) -> keras.Model

so `model=NAME` in config picks the module, and its YAML keys are the keyword arguments.
"""

from __future__ import annotations

import importlib

MODEL_NAMES = ("mlp", "cnn_small", "cnn", "cnn_bn", "resnet", "fast_cnn", "strided_cnn")


def build_model(name: str, *, input_shape, num_classes: int, **architecture):
    """Builds the model `name` (uncompiled) from its module's `build_model`."""
    if name not in MODEL_NAMES:
        raise ValueError(f"Unknown model '{name}'; expected one of {MODEL_NAMES}.")
    module = importlib.import_module(f"mnist_exp.models.{name}")
    return module.build_model(input_shape=input_shape, num_classes=num_classes, **architecture)
