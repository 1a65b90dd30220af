"""Your own model builders: each takes input_shape and num_classes (from mnist_exp) plus the
keys of its config option, and returns an uncompiled Keras model that takes raw 0-255 pixels
and ends in a softmax over num_classes. The types on the keys (mnist_exp.builder_types) let
mnist_exp check their values in the config before TensorFlow starts."""

import keras
from keras import layers

from mnist_exp.builder_types import Positive, Rate


def build_tiny(
    input_shape, num_classes, filters: Positive = 16, units: Positive = 64, dropout_rate: Rate = 0.2
):
    inputs = keras.Input(shape=input_shape)
    x = layers.Rescaling(1 / 255)(inputs)  # the model takes raw pixels, as mnist_exp's do
    x = layers.Conv2D(filters, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(units, activation="relu")(x)
    x = layers.Dropout(dropout_rate)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="tiny")
