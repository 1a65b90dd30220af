"""Fitting: Keras' fit on one machine, our own loop across workers; the training batches."""

from __future__ import annotations

from functools import partial

import tensorflow as tf

from mnist_exp.data.augmentation import make_augmenter
from mnist_exp.data.pipeline import make_evaluation_dataset, make_training_dataset
from mnist_exp.data.prepare import Splits
from mnist_exp.settings import ExperimentSettings
from mnist_exp.training import stop
from mnist_exp.training.batch_plan import BatchPlan
from mnist_exp.training.custom_loop import fit_with_strategy
from mnist_exp.training.losses import classification_loss
from mnist_exp.training.strategy import is_multi_worker


def fit(model, strategy, settings, splits, plan, initial_epoch, callbacks, stopped=False):
    """Trains epochs `initial_epoch`.. of the run (its callbacks see every epoch's end); none
    when training was `stopped` there (by early stopping), though fit still begins and ends."""
    epochs = initial_epoch if stopped else settings.trainer.epochs
    if is_multi_worker(strategy):
        fit_with_strategy(
            model,
            strategy,
            dataset_fn=partial(training_dataset, settings, splits, plan, initial_epoch),
            validation_data=make_evaluation_dataset(splits.x_val, splits.y_val),
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=plan.steps_per_epoch,
            global_batch_size=plan.global_batch,
            loss_function=classification_loss(settings.trainer.label_smoothing, reduction=None),
            callbacks=callbacks,
        )
        return
    # StopWhenAsked is among the callbacks. The datasets are made in here too: a stop raised
    # while TensorFlow builds their graphs can end the process by SIGABRT.
    with stop.checked_at_every_step():
        validation_data = make_evaluation_dataset(splits.x_val, splits.y_val)
        model.fit(
            training_dataset(settings, splits, plan, initial_epoch),
            validation_data=validation_data,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=plan.steps_per_epoch,
            callbacks=callbacks,
            verbose=2 if settings.trainer.verbose == 2 else 0,  # 1 is our own bar
            shuffle=False,  # the tf.data pipeline shuffles
        )


def training_dataset(
    settings: ExperimentSettings,
    splits: Splits,
    plan: BatchPlan,
    initial_epoch: int = 0,
    context: tf.distribute.InputContext | None = None,
):
    """The training batches of epochs `initial_epoch`.. for this run's settings; across
    workers, the slice of each batch that the input pipeline `context` names."""
    epochs = settings.trainer.epochs
    return make_training_dataset(
        splits.x_train,
        splits.y_train,
        batch_size=plan.global_batch,
        seed=settings.seed,
        initial_epoch=initial_epoch,
        epochs=epochs,
        augment=make_augmenter(settings.augment),
        augmented_epochs=epochs - settings.augment.plain_epochs(epochs),
        shard_index=context.input_pipeline_id if context else 0,
        num_shards=context.num_input_pipelines if context else 1,
    )
