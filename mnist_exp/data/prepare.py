"""From a dataset option to the train/validation/test arrays a run uses."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from mnist_exp.data.arrays import ImageData
from mnist_exp.data.disk_images import DiskImages
from mnist_exp.data.splits import stratified_split, stratified_subsample
from mnist_exp.settings import DatasetSettings
from mnist_exp.targets import import_target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Splits(ImageData):
    """A dataset with the validation images carved out of its training images."""

    x_val: np.ndarray
    y_val: np.ndarray


def prepare_splits(settings: DatasetSettings, seed: int, path_label: str | None = None) -> Splits:
    """Loads the dataset, subsamples it if asked, and carves a stratified validation split
    from the training set. The test set is left for the final evaluation only.

    Args:
        path_label: how logs and records name `settings.path` (`dataset_path_as_written`).
    """
    load = import_target(settings.loader, "dataset")
    data = load(**settings.loader_arguments(seed, path_label))
    train_indices = stratified_subsample(data.y_train, settings.max_train_examples, seed)
    test_indices = stratified_subsample(data.y_test, settings.max_test_examples, seed)
    x_all, y_all = _select(data.x_train, train_indices), _select(data.y_train, train_indices)
    fit_indices, val_indices = stratified_split(y_all, settings.validation_split, seed)
    splits = Splits(
        x_train=_select(x_all, fit_indices),
        y_train=y_all[fit_indices],
        x_val=_select(x_all, val_indices),
        y_val=y_all[val_indices],
        x_test=_select(data.x_test, test_indices),
        y_test=_select(data.y_test, test_indices),
        class_names=data.class_names,
        source=data.source,
        recipe=data.recipe,
    )
    log.info(
        "%s from %s: %d train, %d validation, %d test images",
        settings.name,
        data.source,
        len(splits.y_train),
        len(splits.y_val),
        len(splits.y_test),
    )
    return splits


def _select(array: np.ndarray | DiskImages, indices: np.ndarray) -> np.ndarray | DiskImages:
    """`array[indices]`, without copying when `indices` is every index in order (no subsample:
    saves copying the whole training set at every start); images on disk stay there."""
    if len(indices) == len(array) and np.array_equal(indices, np.arange(len(array))):
        return array
    return array.subset(indices) if isinstance(array, DiskImages) else array[indices]
