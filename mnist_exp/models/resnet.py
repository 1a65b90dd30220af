"""A small ResNet sized for 28x28 inputs (the ImageNet ResNets need at least 32x32)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from mnist_exp.builder_types import NonNegative, Positive, Rate, Sizes
from mnist_exp.models.layers import batch_norm, classifier_head, conv_bn_relu, image_input


def _residual_block(features, num_filters: int, strides: int, l2_regularization: float, name: str):
    shortcut = features
    features = conv_bn_relu(
        features, num_filters, l2_regularization, strides=strides, name=f"{name}_a"
    )
    features = conv_bn_relu(features, num_filters, l2_regularization, name=f"{name}_b", relu=False)
    if strides != 1 or shortcut.shape[-1] != num_filters:
        shortcut = layers.Conv2D(
            num_filters, 1, strides=strides, use_bias=False, name=f"{name}_projection"
        )(shortcut)
        shortcut = batch_norm(f"{name}_projection_bn")(shortcut)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([features, shortcut]))


def build_model(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    filters: Sizes,
    blocks_per_stage: Positive,
    dropout_rate: Rate,
    l2_regularization: NonNegative,
) -> keras.Model:
    """Builds a stem conv and one stage of basic residual blocks per entry of `filters`;
    every stage after the first halves the resolution (28 -> 14 -> 7).

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: number of output classes.
        filters: filters of each stage.
        blocks_per_stage: residual blocks in each stage.
        dropout_rate: dropout before the output layer.
        l2_regularization: L2 penalty on every kernel.
    """
    inputs, features = image_input(input_shape)
    features = conv_bn_relu(features, filters[0], l2_regularization, name="stem")
    for stage, num_filters in enumerate(filters):
        for block in range(blocks_per_stage):
            strides = 2 if stage > 0 and block == 0 else 1
            features = _residual_block(
                features, num_filters, strides, l2_regularization, name=f"stage{stage}_block{block}"
            )
    features = layers.GlobalAveragePooling2D()(features)
    if dropout_rate > 0:
        features = layers.Dropout(dropout_rate)(features)
    outputs = classifier_head(features, num_classes, l2_regularization)
    return keras.Model(inputs, outputs, name="resnet")
