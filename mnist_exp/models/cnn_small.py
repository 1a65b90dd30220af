"""The Keras tutorial convnet: Conv32 -> Pool -> Conv64 -> Pool -> (Dense) -> 10."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from mnist_exp.builder_types import Count, NonNegative, Rate, Sizes
from mnist_exp.models.layers import (
    classifier_head,
    flattened_within,
    image_input,
    l2_regularizer,
    require_side,
)

HEAD_SIDE = 8  # larger maps are average-pooled to this before the dense layers (MNIST: 5)


def build_model(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    filters: Sizes,
    dense_units: Count,
    dropout_rate: Rate,
    l2_regularization: NonNegative,
) -> keras.Model:
    """Builds a small convnet of unpadded 3x3 convolutions, each followed by 2x2 pooling.

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: number of output classes.
        filters: filters of each Conv-Pool stage.
        dense_units: width of a hidden Dense layer before the output (0: none, as in Keras').
        dropout_rate: dropout before the final layer(s).
        l2_regularization: L2 penalty on every kernel.
    """
    inputs, features = image_input(input_shape)
    for index, num_filters in enumerate(filters):
        require_side(features, 4, "cnn_small", f"convolution {index} and its pooling")
        features = layers.Conv2D(
            num_filters,
            3,
            activation="relu",
            kernel_regularizer=l2_regularizer(l2_regularization),
            name=f"conv_{index}",
        )(features)
        features = layers.MaxPooling2D(name=f"pool_{index}")(features)
    features = flattened_within(features, HEAD_SIDE)
    if dropout_rate > 0:
        features = layers.Dropout(dropout_rate)(features)
    if dense_units:
        features = layers.Dense(
            dense_units, activation="relu", kernel_regularizer=l2_regularizer(l2_regularization)
        )(features)
    outputs = classifier_head(features, num_classes, l2_regularization)
    return keras.Model(inputs, outputs, name="cnn_small")
