"""Prediction and evaluation of a trained model, on this process alone.

Kept apart from the training engine so that serving, export and ensembles never import it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def predict(model, dataset) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels for every batch of `dataset`, on this worker alone."""

    # One trace for every batch size (the last batch is smaller): batch dimension None.
    @tf.function(input_signature=[dataset.element_spec[0]])
    def predict_step(images):
        return model(images, training=False)

    probabilities, labels = [], []
    for images, batch_labels in dataset:
        probabilities.append(predict_step(images).numpy())
        labels.append(batch_labels.numpy())
    return np.concatenate(probabilities), np.concatenate(labels)


def evaluate(model, dataset) -> dict[str, float]:
    """Mean cross-entropy and accuracy over `dataset`, plus the probabilities."""
    probabilities, labels = predict(model, dataset)
    picked = probabilities[np.arange(len(labels)), labels].astype(np.float64)
    return {
        "loss": float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0)))),
        "accuracy": float(np.mean(probabilities.argmax(axis=1) == labels)),
        "probabilities": probabilities,
    }
