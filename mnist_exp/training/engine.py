"""A run's training story, from typed settings to its metrics: strategy, data, model,
callbacks, fit, the test set scored with the best weights, the report written. Each step is
one call into the module that owns it."""

from __future__ import annotations

from pathlib import Path

from mnist_exp import signals
from mnist_exp.data.prepare import prepare_splits
from mnist_exp.runs.status import Status
from mnist_exp.settings import ExperimentSettings
from mnist_exp.training import stop
from mnist_exp.training.backup import remove_backups, restore_latest
from mnist_exp.training.fitting import fit
from mnist_exp.training.run_callbacks import build_callbacks
from mnist_exp.training.scoring import keep_history_before, score, write_results
from mnist_exp.training.small_data import for_data
from mnist_exp.training.strategy import build_strategy
from mnist_exp.training.trainable import build_trainable


def train_and_evaluate(
    settings: ExperimentSettings,
    output_dir: Path,
    hparams: dict,
    resume: bool = False,
    data_label: str | None = None,
    tracker=None,
) -> dict:
    """Trains, restores the best checkpoint, evaluates on the test set, writes the report.

    Args:
        settings: the checked experiment settings.
        output_dir: where every artifact goes (a scratch folder on non-chief workers).
        hparams: the flattened config, recorded for TensorBoard's HParams dashboard.
        resume: continue from the newest backup in `output_dir` (see `mnist_exp.training.backup`).
        data_label: how logs and metrics name an interpolated `dataset.path`.
        tracker: takes each epoch's logs (`epoch(step, logs)`): the MLflow sender, or None.

    Returns:
        The run's metrics (see README: "What a run leaves").
    """
    strategy = build_strategy(settings.strategy)  # first: it must precede any TensorFlow work
    splits = prepare_splits(settings.dataset, settings.seed, path_label=data_label)
    settings, adapted = for_data(settings, len(splits.y_train))
    with stop.checked_at_every_step():  # TensorFlow builds graphs: a stop waits for its end
        plan, model = build_trainable(settings, splits, strategy)
        restored = restore_latest(model, output_dir) if resume else None
        initial_epoch = restored["epoch"] if restored else 0
        stopped = bool(restored) and restored.get("stop_training") is True  # nothing else
        if resume:
            keep_history_before(output_dir, initial_epoch)
        run = build_callbacks(settings, output_dir, plan, model, restored, tracker)
    signals.raise_if_received()
    fit(model, strategy, settings, splits, plan, initial_epoch, run.callbacks, stopped)
    with stop.checked_at_every_step():  # TensorFlow scores: a stop waits for the report
        scores = score(model, splits, plan, run, settings, output_dir, initial_epoch)
        if adapted:
            scores.metrics["adapted_for_small_data"] = adapted
        write_results(scores, splits, settings, output_dir, run.events_dir, hparams)
    signals.raise_if_received()  # interrupted with its backups: resumed, it is scored again
    if scores.metrics["status"] != Status.DIVERGED:  # a diverged run keeps its last backup
        remove_backups(output_dir)
    return scores.metrics
