"""The compiled model a run trains: fresh Keras state and seeds, precision, the batch plan,
the builder's network, the loss, learning rate and optimizer, its variables made up front."""

from __future__ import annotations

import logging

import keras
import tensorflow as tf

from mnist_exp.data.prepare import Splits
from mnist_exp.errors import ConfigError
from mnist_exp.machine import BFLOAT16_FLAGS, cpu_has_bfloat16
from mnist_exp.models.builders import build_network
from mnist_exp.settings import ExperimentSettings, PrecisionSettings
from mnist_exp.training.batch_plan import BatchPlan
from mnist_exp.training.extensions import check_fit, user_loss, user_metric
from mnist_exp.training.losses import classification_loss
from mnist_exp.training.optimization import (
    build_learning_rate,
    build_optimizer,
    create_training_variables,
)

log = logging.getLogger(__name__)

_jobs_started = 0  # in this process: a multirun's jobs share it


def build_trainable(settings: ExperimentSettings, splits: Splits, strategy):
    """Fresh Keras state, precision, batch plan, and the compiled model in the strategy's scope.

    Returns:
        (plan, model).
    """
    start_job(settings.seed, settings.trainer.deterministic)
    set_precision(settings.precision)
    plan = BatchPlan.for_run(
        settings,
        replicas=strategy.num_replicas_in_sync,
        multi_worker=isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy),
        num_train=len(splits.y_train),
    )
    trainer = settings.trainer
    with strategy.scope():
        model = build_network(settings.model, splits.image_shape, len(splits.class_names))
        loss = (
            user_loss(settings.loss)
            if settings.loss
            else classification_loss(trainer.label_smoothing)
        )
        learning_rate = build_learning_rate(
            settings.schedule,
            learning_rate=plan.learning_rate,
            steps_per_epoch=plan.steps_per_epoch,
            epochs=trainer.epochs,
        )
        model.compile(
            optimizer=build_optimizer(settings.optimizer, learning_rate),
            loss=loss,
            metrics=["accuracy", *map(user_metric, settings.metrics)],
            steps_per_execution=trainer.steps_per_execution,
            jit_compile=trainer.jit_compile,
        )
        check_fit(model, splits.x_train[:2].astype("float32"), settings)
        create_training_variables(model, splits.image_shape)
    log.info(
        "%s: %s parameters; %d replica(s), global batch %d",
        model.name,
        f"{model.count_params():,}",
        plan.replicas,
        plan.global_batch,
    )
    return plan, model


def start_job(seed: int, deterministic: bool) -> None:
    """Fresh Keras state and seeds, so a job alone and inside a multirun give the same result.
    The earlier job's models and graphs are freed here, by a garbage collection (~0.2 s) that
    the first job, or a single run just before its process exits, need not wait for."""
    global _jobs_started
    keras.backend.clear_session(free_memory=_jobs_started > 0)
    _jobs_started += 1
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def set_precision(settings: PrecisionSettings) -> None:
    """Sets Keras' global dtype policy. Keras 3 adds loss scaling for mixed_float16 itself.

    Raises:
        ConfigError: for mixed_float16 without a GPU (CPUs have no fast float16).
    """
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    if settings.policy == "mixed_float16" and not has_gpu:
        raise ConfigError(
            "precision=mixed_float16 needs a GPU and none was found; use precision=float32 "
            "or precision=mixed_bfloat16 on CPU."
        )
    if settings.policy == "mixed_bfloat16" and not has_gpu and cpu_has_bfloat16() is False:
        log.warning(
            "precision=mixed_bfloat16: this CPU has no bfloat16 instructions (%s), so "
            "TensorFlow emulates them and training is slower than with precision=float32.",
            " or ".join(BFLOAT16_FLAGS),
        )
    keras.mixed_precision.set_global_policy(settings.policy)
