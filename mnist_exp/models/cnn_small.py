"""The Keras tutorial convnet: Conv32 -> Pool -> Conv64 -> Pool -> (Dense) -> 10."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from mnist_exp.models.layers import classifier_head, image_input, l2_regularizer


def build_model(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    filters: Sequence[int],
    dense_units: int,
    dropout_rate: float,
    l2_regularization: float,
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
        features = layers.Conv2D(
            num_filters,
            3,
            activation="relu",
            kernel_regularizer=l2_regularizer(l2_regularization),
            name=f"conv_{index}",
        )(features)
        features = layers.MaxPooling2D(name=f"pool_{index}")(features)
    features = layers.Flatten()(features)
    if dropout_rate > 0:
        features = layers.Dropout(dropout_rate)(features)
    if dense_units:
        features = layers.Dense(
            dense_units, activation="relu", kernel_regularizer=l2_regularizer(l2_regularization)
        )(features)
    outputs = classifier_head(features, num_classes, l2_regularization)
    return keras.Model(inputs, outputs, name="cnn_small")
