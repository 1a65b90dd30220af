"""tf.data input pipelines that keep the model fed without per-step Python work.

Training batches are a pure function of (seed, epoch, step): each epoch's order comes from a
stateless shuffle of indices, and augmentation is seeded per step. A run resumed at epoch k
therefore sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mnist_exp.data.arrays import with_channels
from mnist_exp.data.disk_images import DiskImages


def _to_float(images, labels):
    return tf.cast(images, tf.float32), labels


def make_training_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    initial_epoch: int = 0,
    epochs: int,
    augment=None,
    augmented_epochs: int | None = None,
    shard_index: int = 0,
    num_shards: int = 1,
) -> tf.data.Dataset:
    """Batches of float32 images in 0..255 of shape (B, H, W, C) with int32 labels, for
    epochs `initial_epoch` .. `epochs - 1` back to back (pass `steps_per_epoch` to fit).

    Args:
        images: uint8 images (N, H, W) or (N, H, W, C).
        labels: integer labels (N,).
        batch_size: images per batch; each epoch's last batch may be smaller.
        seed: with the epoch, fixes the order; with the step, the augmentation.
        initial_epoch: the first epoch to produce (a resumed run starts past 0).
        epochs: one past the last epoch to produce.
        augment: `augment(images, seed) -> images` (see `mnist_exp.data.augmentation`), or None.
        augmented_epochs: epochs before this one are augmented, later ones are not (None: all).
        shard_index: which slice of every batch this input pipeline yields.
        num_shards: slices per batch (workers of a multi-worker run). Above 1, every pipeline
            builds the same global batches and yields its own 1/num_shards of each, so the
            workers together see exactly the batches of a single-worker run; the last,
            partial batch of an epoch is dropped so every worker takes the same steps.
    """
    all_images = None if isinstance(images, DiskImages) else tf.constant(with_channels(images))
    all_labels = tf.constant(labels.astype(np.int32))
    count = len(labels)
    seed = int(seed)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        batches = tf.data.Dataset.from_tensor_slices(order).batch(
            batch_size, drop_remainder=num_shards > 1
        )
        return batches.enumerate().map(
            lambda step, indices: (epoch, step, indices[shard_index::num_shards])
        )

    def gather(epoch, step, indices):
        if all_images is None:
            batch_images = tf.cast(_read_from_disk(images, indices), tf.float32)
        else:
            batch_images = tf.cast(tf.gather(all_images, indices), tf.float32)
        if augment is not None:
            step_seed = tf.stack([epoch * 1_000_003 + step, tf.constant(seed, tf.int64)])
            plain = batch_images
            batch_images = tf.cond(
                epoch < (epochs if augmented_epochs is None else augmented_epochs),
                lambda: augment(plain, step_seed),
                lambda: plain,
            )
        return batch_images, tf.gather(all_labels, indices)

    dataset = tf.data.Dataset.range(initial_epoch, epochs).flat_map(epoch_batches)
    dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # Without the autotuner (AUTOTUNE then means one call per core and a default buffer):
    # destroying an iterator waits for its model thread's sleep, which grows with the run, so
    # `fit` sat silent for 12-28 s after the last epoch in most default runs. Same throughput.
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


# MNIST's 5,000 validation and 10,000 test images in whole batches: one trace of the
# evaluation step, and few steps. Larger images come in batches of as many pixels: the first
# layers' activations grow with them (1,000 64x64 RGB images took 650 MB in cnn_small).
EVALUATION_BATCH_SIZE = 1000
EVALUATION_BATCH_PIXELS = EVALUATION_BATCH_SIZE * 28 * 28


def evaluation_batch_size(images) -> int:
    """EVALUATION_BATCH_SIZE images of MNIST's size, fewer of larger ones."""
    pixels = int(np.prod(images.shape[1:3]))
    return max(1, min(EVALUATION_BATCH_SIZE, EVALUATION_BATCH_PIXELS // pixels))


def _read_from_disk(images: DiskImages, positions) -> tf.Tensor:
    """The images at `positions` read from their file: uint8 (B, H, W, C)."""
    read = tf.numpy_function(lambda p: with_channels(images.read(p)), [positions], tf.uint8)
    height, width = images.shape[1:3]
    read.set_shape([None, height, width, images.shape[3] if images.ndim == 4 else 1])
    return read


def make_evaluation_dataset(
    images: np.ndarray | DiskImages, labels: np.ndarray, *, batch_size: int | None = None
):
    """Batches in file order, converted once and cached for every later evaluation (read from
    disk each time for images that stay there); `batch_size` None: `evaluation_batch_size`."""
    batch_size = batch_size or evaluation_batch_size(images)
    if isinstance(images, DiskImages):
        positions = tf.data.Dataset.range(len(labels)).batch(batch_size)
        labels = tf.constant(labels.astype(np.int32))
        dataset = positions.map(
            lambda p: (tf.cast(_read_from_disk(images, p), tf.float32), tf.gather(labels, p)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return dataset.prefetch(tf.data.AUTOTUNE)
    dataset = tf.data.Dataset.from_tensor_slices((with_channels(images), labels.astype(np.int32)))
    dataset = dataset.batch(batch_size).map(_to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.cache().prefetch(tf.data.AUTOTUNE)
