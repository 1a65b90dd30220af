"""The classic Keras MNIST CNN: Conv32 -> Conv64 -> MaxPool -> Dropout -> Dense 128 -> 10."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from mnist_exp.builder_types import NonNegative, Positive, Rate, Sizes
from mnist_exp.models.layers import (
    classifier_head,
    flattened_within,
    image_input,
    l2_regularizer,
    require_side,
)

HEAD_SIDE = 16  # larger maps are average-pooled to this before the dense layer (MNIST: 14)


def build_model(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    filters: Sizes,
    dense_units: Positive,
    conv_dropout_rate: Rate,
    dense_dropout_rate: Rate,
    l2_regularization: NonNegative,
) -> keras.Model:
    """Builds stacked 3x3 same-padded convolutions, one max-pool, then a Dense layer.

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: number of output classes.
        filters: filters of each convolution, in order.
        dense_units: width of the hidden Dense layer.
        conv_dropout_rate: dropout after the pooling.
        dense_dropout_rate: dropout after the hidden Dense layer.
        l2_regularization: L2 penalty on every kernel.
    """
    inputs, features = image_input(input_shape)
    for index, num_filters in enumerate(filters):
        features = layers.Conv2D(
            num_filters,
            3,
            padding="same",
            activation="relu",
            kernel_regularizer=l2_regularizer(l2_regularization),
            name=f"conv_{index}",
        )(features)
    require_side(features, 2, "cnn", "its 2x2 max-pooling")
    features = layers.MaxPooling2D()(features)
    features = layers.Dropout(conv_dropout_rate)(features)
    features = flattened_within(features, HEAD_SIDE)
    features = layers.Dense(
        dense_units, activation="relu", kernel_regularizer=l2_regularizer(l2_regularization)
    )(features)
    features = layers.Dropout(dense_dropout_rate)(features)
    outputs = classifier_head(features, num_classes, l2_regularization)
    return keras.Model(inputs, outputs, name="cnn")
