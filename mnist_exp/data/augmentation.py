"""Batch-wise image augmentation in tf.data: one affine warp, optional random erasing, and
optional low resolution (digits written small or scanned coarsely, as users' often are).

Rotation, shift and zoom are folded into a single projective transform per image, so
`augment=light` costs one resampling op per batch, not three.
"""

from __future__ import annotations

import math

import tensorflow as tf

from mnist_exp.settings import AugmentSettings


def _affine_transforms(seed, batch_size, height, width, settings: AugmentSettings):
    """Per-image [a0, a1, a2, b0, b1, b2, 0, 0] mapping output to input pixel coordinates."""
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    max_angle = settings.rotation_degrees * math.pi / 180.0
    angle = tf.random.stateless_uniform([batch_size], seeds[0], -max_angle, max_angle)
    scale = tf.random.stateless_uniform(
        [batch_size], seeds[1], 1.0 - settings.zoom_fraction, 1.0 + settings.zoom_fraction
    )
    shift = tf.random.stateless_uniform(
        [batch_size, 2], seeds[2], -settings.shift_fraction, settings.shift_fraction
    ) * tf.constant([width, height], tf.float32)
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    center_x, center_y = (width - 1) / 2.0, (height - 1) / 2.0
    a2 = center_x - cos * center_x + sin * center_y - shift[:, 0]
    b2 = center_y - sin * center_x - cos * center_y - shift[:, 1]
    zeros = tf.zeros_like(cos)
    return tf.stack([cos, -sin, a2, sin, cos, b2, zeros, zeros], axis=1)


def _random_erasing(images, seed, settings: AugmentSettings):
    """Zeroes one random square of side `erasing_size * height` in a share of the images."""
    batch_size, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    seeds = tf.random.experimental.stateless_split(seed, num=3)
    side = max(1, round(settings.erasing_size * height))
    top = tf.random.stateless_uniform([batch_size, 1, 1], seeds[0], 0, height - side + 1, tf.int32)
    left = tf.random.stateless_uniform([batch_size, 1, 1], seeds[1], 0, width - side + 1, tf.int32)
    chosen = (
        tf.random.stateless_uniform([batch_size, 1, 1], seeds[2]) < settings.erasing_probability
    )
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
    keep = tf.cast(~(inside & chosen), images.dtype)
    return images * keep[..., None]


def _low_resolution(images, seed, settings: AugmentSettings):
    """A share of the images drawn at a random smaller side (one per batch, from
    `low_resolution_side` up), then scaled back: the blur of a coarse scan."""
    batch_size, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    side = tf.random.stateless_uniform([], seeds[0], settings.low_resolution_side, height, tf.int32)
    small = tf.image.resize(images, tf.stack([side, side * width // height]), method="area")
    coarse = tf.image.resize(small, [height, width], method="bilinear")
    chosen = (
        tf.random.stateless_uniform([batch_size, 1, 1, 1], seeds[1])
        < settings.low_resolution_probability
    )
    return tf.where(chosen, tf.cast(coarse, images.dtype), images)


def make_augmenter(settings: AugmentSettings):
    """Returns `augment(images, seed) -> images` for float batches (B, H, W, C), or None.

    `seed` is a shape-[2] int tensor; the same seed gives the same augmentation.
    """
    if not settings.enabled:
        return None
    warp = any((settings.rotation_degrees, settings.shift_fraction, settings.zoom_fraction))
    erase = settings.erasing_probability > 0 and settings.erasing_size > 0
    coarsen = settings.low_resolution_probability > 0

    def augment(images, seed):
        warp_seed, erase_seed, coarse_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, num=3)
        )
        if warp:
            height, width = images.shape[1], images.shape[2]
            transforms = _affine_transforms(warp_seed, tf.shape(images)[0], height, width, settings)
            images = tf.raw_ops.ImageProjectiveTransformV3(
                images=images,
                transforms=transforms,
                output_shape=[height, width],
                fill_value=0.0,
                interpolation="BILINEAR",
                fill_mode="CONSTANT",
            )
        if erase:
            images = _random_erasing(images, erase_seed, settings)
        if coarsen:
            images = _low_resolution(images, coarse_seed, settings)
        return images

    return augment
