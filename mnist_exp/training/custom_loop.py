"""Training and evaluation loops that run under any tf.distribute strategy.

Keras 3's `model.fit` fails under MultiWorkerMirroredStrategy ("Attempt to convert a value
(PerReplica ...)", keras-team/keras#20585, tensorflow/tensorflow#72388). This loop runs each
step with `strategy.run` and reduces across replicas itself, and drives the same Keras
callbacks with the same logs as `fit`, so a multi-worker run logs, checkpoints and stops
early exactly like a single-worker one.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from mnist_exp.models.inference import evaluate

SUM = tf.distribute.ReduceOp.SUM


def _correct(labels, probabilities):
    predicted = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    return tf.reduce_sum(tf.cast(tf.equal(predicted, tf.cast(labels, tf.int32)), tf.float32))


def _train_step_function(model, strategy, global_batch_size: int, loss_function):
    optimizer = model.optimizer

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            probabilities = model(images, training=True)
            per_example = loss_function(labels, probabilities)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled_loss = optimizer.scale_loss(loss)  # loss scaling under mixed_float16
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        count = tf.cast(tf.shape(labels)[0], tf.float32)
        return tf.reduce_sum(per_example), _correct(labels, probabilities), count

    @tf.function
    def train_step(iterator):
        sums = strategy.run(replica_step, args=next(iterator))
        return tf.stack([strategy.reduce(SUM, value, axis=None) for value in sums])

    return train_step


def fit_with_strategy(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    *,
    dataset_fn,
    validation_data,
    epochs: int,
    initial_epoch: int,
    steps_per_epoch: int,
    global_batch_size: int,
    loss_function: keras.losses.Loss,
    callbacks: list,
) -> None:
    """Trains like `model.fit`, one `strategy.run` per step.

    Args:
        dataset_fn: `input_context -> tf.data.Dataset` of per-replica batches for epochs
            `initial_epoch`.. `epochs - 1`, as `distribute_datasets_from_function` takes.
        validation_data: batches evaluated on each worker after every epoch.
        loss_function: the per-example training loss (`reduction=None`).
        callbacks: Keras callbacks, called as `fit` calls them (per epoch, never per step).
    """
    distributed = strategy.distribute_datasets_from_function(dataset_fn)
    train_step = _train_step_function(model, strategy, global_batch_size, loss_function)
    callback_list = keras.callbacks.CallbackList(
        callbacks, model=model, epochs=epochs, steps=steps_per_epoch, verbose=0
    )
    model.stop_training = False
    iterator = iter(distributed)
    logs: dict = {}
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        totals = tf.zeros(3)
        for _ in range(steps_per_epoch):
            totals += train_step(iterator)
        loss_sum, correct, count = totals.numpy().tolist()
        logs = {"loss": loss_sum / count, "accuracy": correct / count}
        callback_list.on_test_begin()
        validation = evaluate(model, validation_data)
        callback_list.on_test_end()
        logs.update(val_loss=validation["loss"], val_accuracy=validation["accuracy"])
        if not math.isfinite(logs["loss"]):
            model.stop_training = True  # TerminateOnNaN, checked once an epoch
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    model.optimizer.finalize_variable_values(model.trainable_variables)  # as fit: use_ema
    callback_list.on_train_end(logs)
