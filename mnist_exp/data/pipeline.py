"""tf.data input pipelines that keep the model fed without per-step Python work."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    training: bool,
    seed: int,
    augment=None,
) -> tf.data.Dataset:
    """Builds batches of float32 images in 0..255 of shape (B, H, W, 1) with their labels.

    Training data is reshuffled every epoch; `augment(images, seed)` (see
    `mnist_exp.augmentation`) runs per batch with a seed that differs every step and every
    epoch yet repeats from run to run. Evaluation data is cached after the first pass.
    """
    dataset = tf.data.Dataset.from_tensor_slices((images[..., None], labels.astype(np.int32)))
    if training:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)

    def to_float(batch_images, batch_labels):
        return tf.cast(batch_images, tf.float32), batch_labels

    dataset = dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None and training:
        step_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, step_seeds).map(
            lambda batch, step_seed: (augment(batch[0], step_seed), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    elif not training:
        dataset = dataset.cache()
    return dataset.prefetch(tf.data.AUTOTUNE)
