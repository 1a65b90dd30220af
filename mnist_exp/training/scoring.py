"""After fitting: the epoch history read back, the best weights scored on the test set, and
the report pictures and TensorBoard record written."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from mnist_exp import safe_files
from mnist_exp.data.augmentation import augmented_copies, make_augmenter
from mnist_exp.data.pipeline import make_evaluation_dataset
from mnist_exp.data.prepare import Splits
from mnist_exp.models.files import load_keras_model
from mnist_exp.models.inference import evaluate
from mnist_exp.reporting.report import build_report, write_report
from mnist_exp.reporting.tensorboard import write_run_record
from mnist_exp.runs import artifacts
from mnist_exp.runs.status import Status
from mnist_exp.settings import ExperimentSettings
from mnist_exp.training.batch_plan import BatchPlan
from mnist_exp.training.extensions import test_values
from mnist_exp.training.run_callbacks import RunCallbacks

log = logging.getLogger(__name__)


def _finite_epochs(history: pd.DataFrame) -> pd.DataFrame:
    return history[np.isfinite(history["loss"]) & np.isfinite(history["val_loss"])]


@dataclass(frozen=True)
class HistorySummary:
    """What the epoch history (complete across resumes) says of the run."""

    status: Status
    best_val_accuracy: float  # the best finite one (nan: none)
    best_val_epoch: int | None  # its epoch, numbered from 1 as in history.csv
    epochs_run: int

    @classmethod
    def of(cls, history: pd.DataFrame) -> HistorySummary:
        finite = _finite_epochs(history)
        best = finite.loc[finite["val_accuracy"].idxmax()] if len(finite) else None
        return cls(
            status=Status.DIVERGED if len(finite) < len(history) else Status.COMPLETED,
            best_val_accuracy=float("nan") if best is None else float(best["val_accuracy"]),
            best_val_epoch=None if best is None else int(best["epoch"]),
            epochs_run=len(history),
        )

    def metrics(self) -> dict:
        return {
            "status": self.status,
            "best_val_accuracy": self.best_val_accuracy,
            "epochs_run": self.epochs_run,
        }


def keep_history_before(output_dir: Path, epoch: int) -> None:
    """Drops history rows a killed run wrote after its last backup (epochs after `epoch`,
    counted from 1), so none is duplicated. Kept rows are copied as text."""
    path = output_dir / artifacts.HISTORY_FILE
    if not path.is_file():
        return
    with open(path, newline="") as stream:  # keep CSVLogger's \r\n line ends as they are
        lines = stream.readlines()
    if not lines:  # stopped before its first epoch ended: CSVLogger writes the header then
        return
    header, *rows = lines
    numbered = ((int(number), rest) for number, rest in (row.split(",", 1) for row in rows))
    kept = [f"{number},{rest}" for number, rest in numbered if number <= epoch]
    safe_files.write_text_atomically(path, header + "".join(kept))


@dataclass(frozen=True)
class Scores:
    metrics: dict
    history: pd.DataFrame
    best_val_epoch: int | None
    scored_epoch: int  # whose weights were scored
    probabilities: np.ndarray  # of the test images


def score(
    model: keras.Model,
    splits: Splits,
    plan: BatchPlan,
    run: RunCallbacks,
    settings: ExperimentSettings,
    output_dir: Path,
    initial_epoch: int,
) -> Scores:
    """The run's metrics: the history's, then the test set's with the best checkpoint's
    weights restored when trainer.restore_best_weights asks for them."""
    history = artifacts.read_history(output_dir)
    summary = HistorySummary.of(history)
    metrics = summary.metrics()
    metrics.update(
        objective_name=settings.objective.metric,
        objective=settings.objective.best(history[settings.objective.metric]),
        class_names=list(splits.class_names),
        input=splits.input_spec.record(),
        input_convention=splits.input_spec.describe(),
    )
    saver, epoch_logger = run.saver, run.epoch_logger
    scored_epoch = metrics["epochs_run"]
    if (
        settings.trainer.restore_best_weights
        and saver.best_epoch is not None
        and saver.best_epoch != scored_epoch  # the last epoch's weights are the model's own
    ):
        model.set_weights(load_keras_model(output_dir / artifacts.MODEL_FILE).get_weights())
        scored_epoch = saver.best_epoch
    log.info(
        "Scoring %s test images with the weights of epoch %s ...",
        f"{len(splits.y_test):,}",
        scored_epoch,
    )
    test_batches = make_evaluation_dataset(splits.x_test, splits.y_test)
    test = evaluate(model, test_batches)
    train_seconds = sum(epoch_logger.train_seconds)
    metrics.update(
        test_accuracy=test["accuracy"],
        test_loss=test["loss"],
        **test_values(settings.metrics, splits.y_test, test["probabilities"]),
        best_epoch=saver.best_epoch,
        train_seconds=round(sum(epoch_logger.epoch_seconds), 3),
        images_per_second=round(
            len(splits.y_train) * len(epoch_logger.train_seconds) / max(train_seconds, 1e-9), 1
        ),
        num_params=int(model.count_params()),
        num_train=len(splits.y_train),
        num_validation=len(splits.y_val),
        num_test=len(splits.y_test),
        data_source=splits.source,
        num_replicas=plan.replicas,
        global_batch_size=plan.global_batch,
        resumed_from_epoch=initial_epoch or None,
    )
    return Scores(metrics, history, summary.best_val_epoch, scored_epoch, test["probabilities"])


def write_results(
    scores: Scores,
    splits: Splits,
    settings: ExperimentSettings,
    output_dir: Path,
    events_dir: Path,
    hparams: dict,
) -> None:
    """The report pictures and tables, and the TensorBoard record (scalars, HParams, images)."""
    log.info("Writing the report pictures and the TensorBoard record ...")
    augmenter = make_augmenter(settings.augment)
    report = build_report(
        splits=splits,
        test_probabilities=scores.probabilities,
        history=scores.history,
        title=f"{settings.model.name} on {settings.dataset.name}",
        augment=partial(augmented_copies, augmenter, seed=settings.seed) if augmenter else None,
    )
    write_report(report, output_dir)
    write_run_record(
        events_dir,
        hparams=hparams,
        metrics=scores.metrics,
        images=report.images,
        # Where the run is, its own folder first: the dashboard's Trial ID column shows about
        # 15 characters, and the keys that tell runs apart have columns of their own.
        run_name=f"{output_dir.name} · {output_dir.parent.name}",
        scored_epoch=scores.scored_epoch,
        best_val_epoch=scores.best_val_epoch,
    )
