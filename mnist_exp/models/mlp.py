"""The classic tutorial MLP: Flatten -> Dense 128 -> Dense 64 -> 10."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from mnist_exp.builder_types import NonNegative, Rate, Sizes
from mnist_exp.models.layers import (
    classifier_head,
    flattened_within,
    image_input,
    l2_regularizer,
)

HEAD_SIDE = 32  # larger images are average-pooled to this before the dense layers


def build_model(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    hidden_units: Sizes,
    dropout_rate: Rate,
    l2_regularization: NonNegative,
) -> keras.Model:
    """Builds a multi-layer perceptron.

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: number of output classes.
        hidden_units: width of each hidden Dense layer, in order.
        dropout_rate: dropout after each hidden layer (0 disables it).
        l2_regularization: L2 penalty on every kernel.
    """
    inputs, features = image_input(input_shape)
    features = flattened_within(features, HEAD_SIDE)
    for index, units in enumerate(hidden_units):
        features = layers.Dense(
            units,
            activation="relu",
            kernel_regularizer=l2_regularizer(l2_regularization),
            name=f"dense_{index}",
        )(features)
        if dropout_rate > 0:
            features = layers.Dropout(dropout_rate)(features)
    outputs = classifier_head(features, num_classes, l2_regularization)
    return keras.Model(inputs, outputs, name="mlp")
