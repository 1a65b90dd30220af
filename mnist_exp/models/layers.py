"""Building blocks shared by the model builders."""

from __future__ import annotations

import keras
from keras import layers


def image_input(input_shape) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """An input of raw 0..255 pixels and its rescaling to 0..1.

    Keeping the rescaling inside the model means a saved model takes raw images.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    return inputs, layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)


def flattened_within(features, side: int):
    """`features` flattened for a dense head, average-pooled first when the map is larger
    than `side` a side, so that the head stays the same size whatever the images' size (the
    maps of 28x28 MNIST are within every model's `side`: those models are unchanged)."""
    pool = tuple(-(-extent // side) for extent in features.shape[1:3])
    if pool != (1, 1):
        features = layers.AveragePooling2D(pool, name="head_pool")(features)
    return layers.Flatten(name="flatten")(features)


def require_side(features, at_least: int, model: str, what: str) -> None:
    """Raises ValueError (a config mistake, said before training) when the feature map is
    smaller than `at_least` pixels a side for `what`."""
    height, width = features.shape[1:3]
    if min(height, width) < at_least:
        raise ValueError(
            f"{model}: {what} needs a feature map of at least {at_least}x{at_least}, and the "
            f"images make {height}x{width}; use larger images (dataset.image_size) or fewer "
            "stages in model.filters."
        )


# Keras' default (0.99) leaves the moving statistics far from the batch statistics for the first
# few hundred steps, so a short run scores near chance on validation; 0.9 settles in ~50 steps.
BATCH_NORM_MOMENTUM = 0.9


def batch_norm(name: str):
    return layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=name)


def l2_regularizer(l2_regularization: float):
    return keras.regularizers.L2(l2_regularization) if l2_regularization > 0 else None


def classifier_head(features, num_classes: int, l2_regularization: float = 0.0):
    """The final Dense layer; softmax kept in float32 so mixed precision stays stable."""
    logits = layers.Dense(
        num_classes, kernel_regularizer=l2_regularizer(l2_regularization), name="logits"
    )(features)
    return layers.Activation("softmax", dtype="float32", name="probabilities")(logits)


def conv_bn_relu(
    features,
    filters: int,
    l2_regularization: float,
    *,
    kernel_size: int = 3,
    strides: int = 1,
    padding: str = "same",
    name: str,
    relu: bool = True,
):
    """Convolution without bias (3x3 same-padded by default), BatchNorm, then ReLU unless
    `relu` is False."""
    features = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_regularizer=l2_regularizer(l2_regularization),
        name=f"{name}_conv",
    )(features)
    features = batch_norm(f"{name}_bn")(features)
    return layers.ReLU(name=f"{name}_relu")(features) if relu else features
