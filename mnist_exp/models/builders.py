"""Models from builder functions: a built-in one (`mnist_exp.models.cnn.build_model`) or the
user's own, named by a config's `model._target_` (`my_nets.build_tiny`); either is called with
`input_shape` and `num_classes` from the framework and the option's other keys as keyword
arguments, and what it returns is checked."""

from __future__ import annotations

from mnist_exp.errors import ConfigError
from mnist_exp.targets import import_target

FRAMEWORK_ARGUMENTS = ("input_shape", "num_classes")  # from the data, never from the config
TARGET_KEY = "model._target_"


def build_from_target(target: str, *, input_shape, num_classes: int, **arguments):
    """Calls the builder `target` names and checks what it returns.

    Raises:
        ConfigError: the builder refuses its arguments, returns no Keras model, or a model
            whose output does not have `num_classes` values.
    """
    import keras

    builder = import_target(target, TARGET_KEY)
    try:
        model = builder(input_shape=tuple(input_shape), num_classes=num_classes, **arguments)
    except TypeError as error:
        raise ConfigError(f"{target}(...) refused its arguments: {error}") from None
    except ValueError as error:  # the builder's own check, such as images too small for it
        own = not target.startswith("mnist_exp.")  # ours name their model in the message
        raise ConfigError(f"{target}: {error}" if own else str(error)) from None
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


def build_network(model, input_shape, num_classes: int):
    """The uncompiled model from the builder that the model settings name (`model.builder`,
    called with `model.arguments()`): a built-in one (mnist_exp.models.NAME.build_model) or
    the user's own function, named alike by `model._target_`."""
    return build_from_target(
        model.builder, input_shape=input_shape, num_classes=num_classes, **model.arguments()
    )
