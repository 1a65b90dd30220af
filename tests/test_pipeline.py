"""Training batches are a pure function of (seed, epoch, step), so a resumed run is exact."""

from __future__ import annotations

import numpy as np
from conftest import compose_config, smoke_config

from mnist_exp.data.augmentation import make_augmenter
from mnist_exp.data.pipeline import make_evaluation_dataset, make_training_dataset
from mnist_exp.settings import parse_settings

IMAGES = np.arange(50 * 28 * 28, dtype=np.int64).reshape(50, 28, 28) % 251
IMAGES = IMAGES.astype(np.uint8)
LABELS = np.arange(50) % 10


def batches(**kwargs):
    dataset = make_training_dataset(IMAGES, LABELS, batch_size=16, seed=7, **kwargs)
    return [(images.numpy(), labels.numpy()) for images, labels in dataset]


def test_each_epoch_covers_every_image_once_in_a_new_order():
    all_batches = batches(epochs=2)
    assert [len(labels) for _, labels in all_batches] == [16, 16, 16, 2] * 2
    first = np.concatenate([images[:, 0, 0, 0] for images, _ in all_batches[:4]])
    second = np.concatenate([images[:, 0, 0, 0] for images, _ in all_batches[4:]])
    expected = np.sort(IMAGES[:, 0, 0])
    np.testing.assert_array_equal(np.sort(first), expected)
    np.testing.assert_array_equal(np.sort(second), expected)
    assert not np.array_equal(first, second)


def test_starting_at_a_later_epoch_gives_that_epochs_batches():
    light = smoke_config("augment=light", "augment.zoom_fraction=0")
    augment = make_augmenter(parse_settings(light).augment)
    full = batches(epochs=3, augment=augment)
    resumed = batches(initial_epoch=1, epochs=3, augment=augment)
    assert len(resumed) == 8
    for (full_images, full_labels), (images, labels) in zip(full[4:], resumed, strict=True):
        np.testing.assert_array_equal(full_labels, labels)
        np.testing.assert_array_equal(full_images, images)


def test_the_plain_last_epochs_see_the_images_as_they_are():
    light = smoke_config("augment=light")
    augment = make_augmenter(parse_settings(light).augment)
    augmented = batches(epochs=3, augment=augment)
    plain = batches(epochs=3)
    mixed = batches(epochs=3, augment=augment, augmented_epochs=2)
    for index, (images, labels) in enumerate(mixed):
        expected = augmented[index] if index < 8 else plain[index]  # 4 batches an epoch
        np.testing.assert_array_equal(labels, expected[1])
        np.testing.assert_array_equal(images, expected[0])
    assert not np.array_equal(augmented[8][0], plain[8][0])


def test_the_plain_share_leaves_every_run_an_augmented_epoch():
    settings = parse_settings(smoke_config("augment=light", "augment.plain_final_share=0.5"))
    assert [settings.augment.plain_epochs(epochs) for epochs in (1, 2, 3, 4)] == [0, 1, 2, 2]
    preset = parse_settings(compose_config("+experiment=best_accuracy"))
    assert preset.augment.plain_epochs(32) == 4


def test_evaluation_batches_keep_file_order():
    dataset = make_evaluation_dataset(IMAGES, LABELS, batch_size=16)
    labels = np.concatenate([batch_labels.numpy() for _, batch_labels in dataset])
    np.testing.assert_array_equal(labels, LABELS)


def test_the_training_pipeline_runs_without_the_autotuner():
    """With it, deleting the iterator at the end of `fit` waited up to its model thread's
    sleep: 12-28 s of silence after the last epoch of most default runs (measured)."""
    dataset = make_training_dataset(IMAGES, LABELS, batch_size=16, seed=7, epochs=1)
    assert dataset.options().autotune.enabled is False


def test_low_resolution_writes_a_share_of_the_digits_coarsely_and_repeatably():
    import tensorflow as tf

    coarse = smoke_config("augment.low_resolution_probability=1", "augment.low_resolution_side=7")
    augment = make_augmenter(parse_settings(coarse).augment)
    digit = np.zeros((1, 28, 28, 1), np.float32)
    digit[0, 6:22, 13:15] = 255.0  # a sharp two-pixel stroke
    seed = tf.constant([3, 7], tf.int64)
    first, again = augment(digit, seed).numpy(), augment(digit, seed).numpy()
    np.testing.assert_array_equal(first, again)
    assert np.abs(np.diff(first[0, 14, :, 0])).max() < 255.0  # its edges are blurred
    assert 0.5 < first.sum() / digit.sum() < 1.5  # the ink is kept, spread out
    assert make_augmenter(parse_settings(smoke_config()).augment) is None  # off by default


def warp_only(*overrides):
    import tensorflow as tf

    settings = parse_settings(smoke_config("augment=elastic", *overrides)).augment
    digit = np.zeros((1, 28, 28, 1), np.float32)
    digit[0, 6:22, 13:15] = 255.0
    return make_augmenter(settings)(tf.constant(digit), tf.constant([3, 7], tf.int64)).numpy()


def test_the_elastic_warp_reads_pixels_as_the_affine_warp_does():
    """With a vanishing field, the hand-written sampler gives the projective transform's image."""
    affine = warp_only("augment.elastic_alpha=0")
    np.testing.assert_allclose(warp_only("augment.elastic_alpha=1e-9"), affine, atol=1e-2)


def test_the_elastic_warp_bends_strokes_repeatably_and_keeps_the_ink():
    affine, elastic = warp_only("augment.elastic_alpha=0"), warp_only()
    np.testing.assert_array_equal(elastic, warp_only())
    moved = np.abs(elastic - affine) > 64
    assert 5 < moved.sum() < 200  # the stroke shifts by a pixel or two here and there
    assert 0.8 < elastic.sum() / affine.sum() < 1.25
    assert elastic.min() >= 0 and elastic.max() <= 255.0 + 1e-3
