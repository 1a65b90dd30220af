"""Batch-wise image augmentation in tf.data: one affine warp, optional elastic distortion,
optional random erasing, and optional low resolution (digits written small or scanned
coarsely, as users' often are); for natural images (`augment=natural`, refused on digits),
mirroring, brightness, contrast and saturation, and edges reflected instead of black. Any
size and channel count.

Rotation, shift and zoom are folded into a single projective transform per image, so
`augment=light` costs one resampling op per batch, not three. The elastic distortion (Simard
et al., 2003: a random displacement field smoothed by a Gaussian, the wobble of a hand) is
added to the same sampling coordinates, so it too costs no second resampling. Its field is
blurred by two small matmuls and sampled by gathers of single values: 3.1-3.3 ms per batch of
128 on 2 cores against 4.7-5.0 ms with depthwise convolutions and gathers of rows; the affine
warp alone takes 1.4 ms (`python -m benchmarks.augment_cost`).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from mnist_exp.data.arrays import with_channels
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


def _gaussian_blur_matrix(size: int, sigma: float) -> tf.Tensor:
    """[size, size] matrix M such that M @ v is v convolved with a normalised Gaussian of
    `sigma` pixels (3 sigma each side), zeros beyond its ends: the blur as one small matmul."""
    radius = math.ceil(3 * sigma)
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    offsets = tf.range(size, dtype=tf.float32)
    distances = offsets[:, None] - offsets[None, :]
    weights = tf.where(tf.abs(distances) <= radius, tf.exp(-0.5 * (distances / sigma) ** 2), 0.0)
    return weights / tf.reduce_sum(tf.exp(-0.5 * (taps / sigma) ** 2))


def _elastic_displacements(seed, batch_size, height, width, settings: AugmentSettings):
    """Per-pixel (dx, dy), each (B, H, W): uniform noise in [-1, 1] smoothed by a Gaussian of
    `elastic_sigma` pixels, scaled by `elastic_alpha`."""
    noise = tf.random.stateless_uniform([batch_size, 2, height, width], seed, -1.0, 1.0)
    along_rows = _gaussian_blur_matrix(height, settings.elastic_sigma)
    along_cols = _gaussian_blur_matrix(width, settings.elastic_sigma)
    smooth = tf.matmul(tf.matmul(along_rows, noise), along_cols, transpose_b=True)
    return tf.unstack(settings.elastic_alpha * smooth, axis=1)


def _sample_bilinear(images, source_x, source_y):
    """`images` (B, H, W, C) read at float pixel coordinates (B, H, W) with integer pixel
    centres, as ImageProjectiveTransformV3 reads them; outside the image reads 0."""
    batch_size = tf.shape(images)[0]
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    # A border of zeros one pixel wide: every coordinate outside clips onto it. Channels go
    # first so that every read is of one value from a flat tensor.
    padded = tf.pad(tf.transpose(images, [3, 0, 1, 2]), [[0, 0], [0, 0], [1, 1], [1, 1]])
    flat = tf.reshape(padded, [-1])
    x = tf.clip_by_value(source_x + 1.0, 0.0, width + 1.0)
    y = tf.clip_by_value(source_y + 1.0, 0.0, height + 1.0)
    x0, y0 = tf.floor(x), tf.floor(y)
    wx, wy = x - x0, y - y0
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width + 1), tf.minimum(y0 + 1, height + 1)
    image_size = (height + 2) * (width + 2)
    base = tf.range(channels)[:, None, None, None] * (batch_size * image_size)
    base += tf.range(batch_size)[None, :, None, None] * image_size

    def read(row, col):
        return tf.gather(flat, base + row * (width + 2) + col)

    top = read(y0, x0) * (1.0 - wx) + read(y0, x1) * wx
    bottom = read(y1, x0) * (1.0 - wx) + read(y1, x1) * wx
    return tf.transpose(top * (1.0 - wy) + bottom * wy, [1, 2, 3, 0])


def _warp(images, seed, settings: AugmentSettings, elastic: bool):
    """The affine warp, plus the elastic displacements when `elastic`, in one resampling."""
    batch_size, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    transforms = _affine_transforms(seed, batch_size, height, width, settings)
    if not elastic:
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=transforms,
            output_shape=[height, width],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode=settings.fill_mode.upper(),
        )
    a0, a1, a2, b0, b1, b2 = tf.unstack(tf.reshape(transforms[:, :6], [-1, 6, 1, 1]), axis=1)
    rows, cols = tf.meshgrid(
        tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij"
    )
    # Folded in, not split off: the affine draws stay those of runs made before elastic existed.
    elastic_seed = tf.random.experimental.stateless_fold_in(seed, 1)
    shift_x, shift_y = _elastic_displacements(elastic_seed, batch_size, height, width, settings)
    source_x = a0 * cols + a1 * rows + a2 + shift_x
    source_y = b0 * cols + b1 * rows + b2 + shift_y
    return _sample_bilinear(images, source_x, source_y)


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


def _mirrored(images, seed, probability: float):
    """A share `probability` of the images mirrored left-right."""
    chosen = tf.random.stateless_uniform([tf.shape(images)[0], 1, 1, 1], seed) < probability
    return tf.where(chosen, tf.reverse(images, axis=[2]), images)


def _photometric(images, seed, settings: AugmentSettings):
    """Each image's brightness shifted, then its contrast and (RGB) saturation scaled, by
    random amounts within the settings' bounds; levels kept in 0..255."""
    shape = [tf.shape(images)[0], 1, 1, 1]
    seeds = tf.random.experimental.stateless_split(seed, num=3)
    if settings.brightness:
        bound = 255.0 * settings.brightness
        images = images + tf.random.stateless_uniform(shape, seeds[0], -bound, bound)
    if settings.contrast:
        factor = tf.random.stateless_uniform(
            shape, seeds[1], 1.0 - settings.contrast, 1.0 + settings.contrast
        )
        mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
        images = mean + (images - mean) * factor
    if settings.saturation and images.shape[-1] == 3:
        factor = tf.random.stateless_uniform(
            shape, seeds[2], 1.0 - settings.saturation, 1.0 + settings.saturation
        )
        grey = tf.reduce_mean(images, axis=-1, keepdims=True)
        images = grey + (images - grey) * factor
    return tf.clip_by_value(images, 0.0, 255.0)


def make_augmenter(settings: AugmentSettings):
    """Returns `augment(images, seed) -> images` for float batches (B, H, W, C), or None.

    `seed` is a shape-[2] int tensor; the same seed gives the same augmentation.
    """
    if not settings.enabled:
        return None
    elastic = settings.elastic_alpha > 0
    warp = elastic or any(
        (settings.rotation_degrees, settings.shift_fraction, settings.zoom_fraction)
    )
    erase = settings.erasing_probability > 0 and settings.erasing_size > 0
    coarsen = settings.low_resolution_probability > 0
    photometric = any((settings.brightness, settings.contrast, settings.saturation))

    def augment(images, seed):
        warp_seed, erase_seed, coarse_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, num=3)
        )
        # Folded in rather than split above: the seeds of the older transforms stay as
        # they were, so runs with them draw the same images.
        if settings.horizontal_flip:
            flip_seed = tf.random.experimental.stateless_fold_in(seed, 11)
            images = _mirrored(images, flip_seed, settings.horizontal_flip)
        if photometric:
            images = _photometric(
                images, tf.random.experimental.stateless_fold_in(seed, 12), settings
            )
        if warp:
            images = _warp(images, warp_seed, settings, elastic)
        if erase:
            images = _random_erasing(images, erase_seed, settings)
        if coarsen:
            images = _low_resolution(images, coarse_seed, settings)
        return images

    return augment


def augmented_copies(augment, images: np.ndarray, seed: int) -> np.ndarray:
    """`images` (N, H, W) or (N, H, W, C) uint8 as `augment` draws them in one batch seeded
    by `seed`, as uint8 of the same shape: for showing what training sees."""
    batch = tf.constant(with_channels(images), tf.float32)
    drawn = augment(batch, tf.constant([0, seed], tf.int64)).numpy().reshape(images.shape)
    return np.clip(np.rint(drawn), 0, 255).astype(np.uint8)
