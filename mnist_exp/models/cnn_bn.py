"""A CNN of conv-BatchNorm-ReLU blocks, each ending in max-pooling: the strong default."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from mnist_exp.builder_types import NonNegative, Positive, Rate, Sizes
from mnist_exp.models.layers import (
    classifier_head,
    conv_bn_relu,
    flattened_within,
    image_input,
    require_side,
)

HEAD_SIDE = 8  # larger maps are average-pooled to this before the classifier (MNIST: 3)


def build_model(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    filters: Sizes,
    convs_per_block: Positive,
    dropout_rate: Rate,
    l2_regularization: NonNegative,
) -> keras.Model:
    """Builds blocks of `convs_per_block` conv-BN-ReLU layers, each block ending in a 2x2
    max-pool, then flattens the last (3x3 for three blocks) feature map into the classifier.

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: number of output classes.
        filters: filters of each block (28x28 -> 14x14 -> 7x7 -> 3x3 for three blocks).
        convs_per_block: conv-BN-ReLU layers in each block.
        dropout_rate: dropout before the output layer.
        l2_regularization: L2 penalty on every kernel.
    """
    inputs, features = image_input(input_shape)
    for block, num_filters in enumerate(filters):
        for layer in range(convs_per_block):
            features = conv_bn_relu(
                features, num_filters, l2_regularization, name=f"block{block}_{layer}"
            )
        require_side(features, 2, "cnn_bn", f"block {block}'s 2x2 max-pooling")
        features = layers.MaxPooling2D(name=f"block{block}_pool")(features)
    features = flattened_within(features, HEAD_SIDE)
    if dropout_rate > 0:
        features = layers.Dropout(dropout_rate)(features)
    outputs = classifier_head(features, num_classes, l2_regularization)
    return keras.Model(inputs, outputs, name="cnn_bn")
