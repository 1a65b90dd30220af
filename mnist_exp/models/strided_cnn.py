"""A deeper conv-BN net that downsamples with strided 5x5 convolutions instead of pooling.

The architecture of Chris Deotte's Kaggle MNIST study ("How to choose CNN architecture"):
per block two unpadded 3x3 conv-BN-ReLU layers and a 5x5 stride-2 one, then a convolution
that covers the whole remaining map (28 -> 24 -> 12 -> 8 -> 4 -> 1 for two blocks).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from mnist_exp.builder_types import NonNegative, Positive, Rate, Sizes
from mnist_exp.models.layers import classifier_head, conv_bn_relu, image_input

# Two unpadded 3x3 convolutions take this much off each side before the stride-2 one.
_SHRINK_PER_BLOCK = 4


def build_model(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    filters: Sizes,
    head_filters: Positive,
    dropout_rate: Rate,
    l2_regularization: NonNegative,
) -> keras.Model:
    """Builds one block per entry of `filters`, each followed by dropout, then a conv-BN-ReLU
    layer of `head_filters` whose kernel spans the last feature map, dropout and the classifier.

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: number of output classes.
        filters: filters of each block's three convolutions.
        head_filters: filters of the final convolution (the flattened feature size).
        dropout_rate: dropout after each block and before the output layer.
        l2_regularization: L2 penalty on every kernel.
    """
    inputs, features = image_input(input_shape)
    for block, num_filters in enumerate(filters):
        size = min(features.shape[1:3])
        if size <= _SHRINK_PER_BLOCK:
            raise ValueError(
                f"strided_cnn block {block}: a {size}x{size} feature map is too small for two "
                "unpadded 3x3 convolutions; use fewer entries in model.filters."
            )
        for layer in range(2):
            features = conv_bn_relu(
                features,
                num_filters,
                l2_regularization,
                padding="valid",
                name=f"block{block}_{layer}",
            )
        features = conv_bn_relu(
            features,
            num_filters,
            l2_regularization,
            kernel_size=5,
            strides=2,
            name=f"block{block}_downsample",
        )
        if dropout_rate > 0:
            features = layers.Dropout(dropout_rate, name=f"block{block}_dropout")(features)
    features = conv_bn_relu(
        features,
        head_filters,
        l2_regularization,
        kernel_size=tuple(features.shape[1:3]),
        padding="valid",
        name="head",
    )
    features = layers.Flatten()(features)
    if dropout_rate > 0:
        features = layers.Dropout(dropout_rate)(features)
    outputs = classifier_head(features, num_classes, l2_regularization)
    return keras.Model(inputs, outputs, name="strided_cnn")
