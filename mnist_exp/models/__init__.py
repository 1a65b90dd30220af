"""Model builders. Each module `mnist_exp.models.NAME` exposes `build_model` with one signature:

    build_model(input_shape, num_classes, *, l2_regularization, **architecture) -> keras.Model

so `model=NAME` in config picks the module, and its YAML keys are the keyword arguments.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

NOT_MODELS = ("layers", "inference", "files", "builders")  # helper modules beside the builders
MODEL_NAMES = tuple(
    sorted(
        module.name
        for module in pkgutil.iter_modules([str(Path(__file__).parent)])
        if module.name not in NOT_MODELS
    )
)


def build_model(name: str, *, input_shape, num_classes: int, **architecture):
    """Builds the model `name` (uncompiled) from its module's `build_model`."""
    if name not in MODEL_NAMES:
        raise ValueError(f"Unknown model '{name}'; expected one of {MODEL_NAMES}.")
    module = importlib.import_module(f"mnist_exp.models.{name}")
    return module.build_model(input_shape=input_shape, num_classes=num_classes, **architecture)
