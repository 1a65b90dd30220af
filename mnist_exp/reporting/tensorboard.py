"""TensorBoard records beyond Keras' scalars: HParams, final metrics and report images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

FINAL_METRICS = ("objective", "test_accuracy", "test_loss", "best_val_accuracy", "train_seconds")
# Tag groups, so that TensorBoard's Time Series (which sorts groups by name) shows Keras'
# epoch curves first, then the final values, then the report's pictures.
FINAL_GROUP, REPORT_GROUP = "final", "report"


def final_tag(name: str) -> str:
    return f"{FINAL_GROUP}/{name}"


def hparams_metrics() -> list:
    """The final values as HParams metrics, shown under their plain names."""
    return [hparams_api.Metric(final_tag(name), display_name=name) for name in FINAL_METRICS]


def _png_to_image(png: bytes) -> np.ndarray:
    return tf.image.decode_png(png, channels=4).numpy()[None]


def _hparam_value(value):
    """Values as the HParams dashboard shows them well: integers as text (it prints every
    number with four decimals, so seed 0 read `0.0000`), floats as numbers."""
    if isinstance(value, (bool, float, str)):
        return value
    if isinstance(value, int):
        return str(value)
    return "null" if value is None else str(value)


def write_run_record(
    log_dir: Path, *, hparams: dict, metrics: dict, images: dict[str, bytes], run_name: str
) -> None:
    """Writes the run's HParams (flattened config), final metrics and PNG images into `log_dir`,
    so `tensorboard --logdir outputs` lists it in the HParams dashboard."""
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        hparams_api.hparams(
            {key: _hparam_value(value) for key, value in hparams.items()}, trial_id=run_name
        )
        for name in FINAL_METRICS:
            value = metrics.get(name)
            if isinstance(value, (int, float)) and np.isfinite(value):
                tf.summary.scalar(final_tag(name), value, step=0)
        for name, png in images.items():
            tf.summary.image(f"{REPORT_GROUP}/{name}", _png_to_image(png), step=0)
    writer.flush()
    writer.close()


def write_sweep_domains(sweep_dir: Path, domains: dict[str, list]) -> None:
    """Declares the swept parameters and their values at a multirun's root."""
    hparams = []
    for name, values in domains.items():
        values = [_hparam_value(value) for value in values]
        kinds = {type(value) for value in values}
        hparams.append(
            hparams_api.HParam(name, hparams_api.Discrete(values) if len(kinds) == 1 else None)
        )
    metrics = hparams_metrics()
    writer = tf.summary.create_file_writer(str(sweep_dir))
    with writer.as_default():
        hparams_api.hparams_config(hparams=hparams, metrics=metrics)
    writer.flush()
    writer.close()
