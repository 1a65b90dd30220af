"""The training loss: cross-entropy on integer labels, label-smoothed on request."""

from __future__ import annotations

import keras
from keras import ops


def classification_loss(
    label_smoothing: float, reduction: str | None = "sum_over_batch_size"
) -> keras.losses.Loss:
    if not label_smoothing:
        return keras.losses.SparseCategoricalCrossentropy(reduction=reduction)
    return SmoothedSparseCrossentropy(label_smoothing, reduction=reduction)


class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Keras' CategoricalCrossentropy(label_smoothing=s) for integer labels: the target puts
    1 - s on the true class and s spread evenly over all classes."""

    def __init__(
        self,
        label_smoothing: float,
        reduction: str | None = "sum_over_batch_size",
        name: str = "smoothed_sparse_crossentropy",
    ):
        super().__init__(reduction=reduction, name=name)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        return keras.losses.categorical_crossentropy(
            ops.one_hot(labels, ops.shape(y_pred)[-1]),
            y_pred,
            label_smoothing=self.label_smoothing,
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
