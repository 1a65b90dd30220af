"""TensorBoard records beyond Keras' scalars: HParams, final values and report images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from mnist_exp.reporting.tensorboard_names import BEST_VALIDATION_RUN, TEST_RUN
from mnist_exp.runs.table import users_metrics

# The final values the HParams dashboard takes as metrics. It reads them from scalars only, so
# each is drawn where it belongs rather than as a one-point chart of its own: the test figures
# on the epoch accuracy and loss charts at the epoch whose weights were scored (a `test` run
# beside Keras' `train` and `validation`), the best validation accuracy on the accuracy chart
# at the epoch it was reached (a `validation_best` run).
METRICS = {  # name shown: (run below the session, tag)
    "test_accuracy": (TEST_RUN, "epoch_accuracy"),
    "test_loss": (TEST_RUN, "epoch_loss"),
    "best_val_accuracy": (BEST_VALIDATION_RUN, "epoch_accuracy"),
}
SUMMARY_VALUES = ("test_accuracy", "test_loss", "best_val_accuracy", "objective_name",
                  "objective", "best_epoch", "epochs_run", "train_seconds", "status")  # fmt: skip
REPORT_GROUP = "report"  # after the `epoch_*` curves in Time Series, which sorts by name


def _with_users(users: list[str]) -> dict[str, tuple[str, str]]:
    """METRICS and the users' test_NAME values (their points on the `epoch_NAME` charts)."""
    return {
        **METRICS,
        **{name: (TEST_RUN, f"epoch_{name.removeprefix('test_')}") for name in users},
    }


def hparams_metrics(users: list[str] | tuple[str, ...] = ()) -> list:
    """The HParams dashboard's metrics: ours, then the users' `test_NAME` ones."""
    return [
        hparams_api.Metric(tag, group=run, display_name=name)
        for name, (run, tag) in _with_users(users).items()
    ]


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


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and bool(np.isfinite(value))


def _summary_table(metrics: dict) -> str:
    def shown(value) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    rows = [f"| {name} | {shown(metrics[name])} |" for name in SUMMARY_VALUES if name in metrics]
    return "\n".join(["| final value | |", "|---|---|", *rows])


def _write_points(log_dir: Path, run: str, points: dict[str, tuple[int, float]]) -> None:
    writer = tf.summary.create_file_writer(str(log_dir / run))
    with writer.as_default():
        for tag, (step, value) in points.items():
            tf.summary.scalar(tag, value, step=step)
    writer.close()


def write_run_record(
    log_dir: Path,
    *,
    hparams: dict,
    metrics: dict,
    images: dict[str, bytes],
    run_name: str,
    scored_epoch: int,
    best_val_epoch: int | None,
) -> None:
    """Writes the run's HParams (flattened config), final values and PNG images into
    `log_dir`, so `tensorboard --logdir outputs` lists it in the HParams dashboard. The final
    values are points on the epoch charts (see METRICS) and a text summary."""
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        hparams_api.hparams(
            {key: _hparam_value(value) for key, value in hparams.items()}, trial_id=run_name
        )
        tf.summary.text("summary", _summary_table(metrics), step=0)
        for name, png in images.items():
            tf.summary.image(f"{REPORT_GROUP}/{name}", _png_to_image(png), step=0)
    writer.close()
    epoch_of = {TEST_RUN: scored_epoch, BEST_VALIDATION_RUN: best_val_epoch}
    points: dict[str, dict[str, tuple[int, float]]] = {}
    for name, (run, tag) in _with_users(users_metrics(metrics)).items():
        if epoch_of[run] is not None and _finite(metrics.get(name)):
            points.setdefault(run, {})[tag] = (epoch_of[run], metrics[name])
    for run, run_points in points.items():
        _write_points(log_dir, run, run_points)


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
