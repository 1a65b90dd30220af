"""Floating-point operations of a Keras model, counted from its layers' shapes."""

from __future__ import annotations

import keras

# Backward pass: one product for the input gradient and one for the weight gradient.
TRAINING_TO_FORWARD = 3


def _output_shape(layer) -> tuple:
    return tuple(layer.output.shape)


def layer_forward_flops(layer) -> int:
    """Multiply-adds x 2 of the layer's main product for one image (other ops are ignored)."""
    if isinstance(layer, keras.layers.Conv2D):
        _, height, width, filters = _output_shape(layer)
        kernel_height, kernel_width = layer.kernel_size
        channels = layer.input.shape[-1]
        return 2 * height * width * filters * kernel_height * kernel_width * channels
    if isinstance(layer, keras.layers.Dense):
        return 2 * int(layer.input.shape[-1]) * layer.units
    return 0


def forward_flops_per_image(model: keras.Model) -> int:
    """Forward FLOPs for one image: convolutions and dense layers, nested models included."""
    total = 0
    for layer in model._flatten_layers(include_self=False):
        total += layer_forward_flops(layer)
    return total


def training_flops_per_image(model: keras.Model) -> int:
    """Forward plus backward FLOPs for one training image (backward ~ 2x forward)."""
    return TRAINING_TO_FORWARD * forward_flops_per_image(model)
