"""The training loss: label smoothing on integer labels, as Keras smooths one-hot labels."""

import keras
import numpy as np
import pytest

from mnist_exp.training.losses import SmoothedSparseCrossentropy, classification_loss


def probabilities_and_labels(rows: int = 6, classes: int = 10):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(rows, classes)).astype("float32")
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probabilities, rng.integers(0, classes, rows)


@pytest.mark.parametrize("smoothing", [0.1, 0.3])
def test_smoothing_integer_labels_equals_keras_smoothing_one_hot_labels(smoothing):
    probabilities, labels = probabilities_and_labels()
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing, reduction=None)(
        np.eye(10)[labels], probabilities
    )
    got = classification_loss(smoothing, reduction=None)(labels, probabilities)
    assert isinstance(classification_loss(smoothing), SmoothedSparseCrossentropy)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-6)
    plain = classification_loss(0.0, reduction=None)(labels, probabilities)
    assert np.all(np.asarray(got) != np.asarray(plain))


def test_no_smoothing_is_keras_sparse_crossentropy():
    assert isinstance(classification_loss(0.0), keras.losses.SparseCategoricalCrossentropy)
