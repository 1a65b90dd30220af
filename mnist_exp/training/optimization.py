"""Optimizer and learning-rate schedule from settings."""

from __future__ import annotations

import keras

from mnist_exp.errors import ConfigError
from mnist_exp.settings import BuilderSettings, OptimizerSettings
from mnist_exp.targets import import_target


def build_learning_rate(
    schedule: BuilderSettings, *, learning_rate: float, steps_per_epoch: int, epochs: int
):
    """The schedule's builder (`schedule._target_`, see `schedules`) called: a float (a
    constant rate) or a LearningRateSchedule.

    Raises:
        ConfigError: the builder refuses its keys together (`schedule=step` with one factor
            too few), naming the schedule.
    """
    builder = import_target(schedule.builder, "schedule._target_")
    try:
        return builder(
            learning_rate=learning_rate,
            steps_per_epoch=steps_per_epoch,
            epochs=epochs,
            **schedule.arguments(),
        )
    except (TypeError, ValueError) as error:
        raise ConfigError(f"schedule={schedule.name} ({schedule.builder}): {error}") from None


def build_optimizer(optimizer: OptimizerSettings, learning_rate) -> keras.optimizers.Optimizer:
    """The optimizer class `optimizer._target_` names, called with the learning rate (or
    schedule) and the option's other keys, as every other `_target_` is.

    Raises:
        ConfigError: when the optimizer rejects a key or value.
    """
    factory = import_target(optimizer.target, "optimizer._target_")
    try:
        return factory(learning_rate=learning_rate, **optimizer.arguments)
    except Exception as error:
        raise ConfigError(f"optimizer ({optimizer.target}): {error}") from None


def create_training_variables(model: keras.Model, image_shape) -> None:
    """Creates the optimizer's and the metrics' variables now rather than in fit's first step.

    Outside a tf.distribute scope Keras creates them while tracing the train step, and a
    tf.function that creates variables on its first call is traced twice (tensorflow#48851):
    about a second more before the first step. This is the (private) build Keras itself runs
    when the model was made inside a strategy scope; should a Keras release drop it, the
    optimizer is still built through its public API (test_the_train_step_is_traced_once
    then reports the second trace).
    """
    symbolic_build = getattr(model, "_symbolic_build", None)
    if symbolic_build is None:
        model.optimizer.build(model.trainable_variables)
        return
    symbolic_build(
        data_batch=(
            keras.KerasTensor((None, *image_shape), dtype="float32"),
            keras.KerasTensor((None,), dtype="int32"),
        )
    )
