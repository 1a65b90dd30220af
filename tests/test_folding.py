"""Batch normalization folded for inference: the copy answers as the model does, and only
what folds exactly is folded."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
from conftest import compose_config

from mnist_exp.models import folding
from mnist_exp.models.builders import build_network
from mnist_exp.settings import parse_settings

IMAGES = np.random.default_rng(3).uniform(0, 255, (32, 28, 28, 1)).astype(np.float32)


def _with_trained_statistics(model):
    """Moving statistics and affine weights far from their initial 0/1, so a wrong fold shows."""
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.moving_mean.shape[0]
            layer.set_weights([
                rng.uniform(0.5, 2.0, size), rng.normal(0, 0.5, size),
                rng.normal(0, 2.0, size), rng.uniform(0.1, 4.0, size),
            ])  # fmt: skip
    return model


def _built_in(name: str):
    settings = parse_settings(compose_config(f"model={name}"))
    return _with_trained_statistics(build_network(settings.model, (28, 28, 1), 10))


def _norms(model) -> int:
    return sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


def _functional(shared_output: bool = False, policy: str | None = None):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    conv = keras.layers.Conv2D(8, 3, use_bias=False, dtype=policy)(x)
    x = keras.layers.BatchNormalization(dtype=policy)(conv)
    x = keras.layers.ReLU()(x)
    if shared_output:
        x = keras.layers.Add()([x, conv])  # the convolution's output is read twice
    x = keras.layers.Flatten()(keras.layers.MaxPooling2D(4)(x))
    x = keras.layers.BatchNormalization()(keras.layers.Dense(16)(x))
    return _with_trained_statistics(keras.Model(inputs, keras.layers.Dense(10)(x)))


def _same_answers(model, copy) -> bool:
    expected = model(IMAGES, training=False).numpy()
    return np.allclose(copy(IMAGES, training=False).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_every_normalization_after_a_linear_layer_is_folded_and_answers_alike():
    model = _functional()
    copy = folding.folded_for_inference(model)
    assert _norms(model) == 2 and _norms(copy) == 0
    assert _same_answers(model, copy)


def test_the_built_in_cnn_bn_folds_completely():
    model = _built_in("cnn_bn")
    copy = folding.folded_for_inference(model)
    assert _norms(copy) == 0 and _same_answers(model, copy)


def test_a_model_of_a_list_of_one_input_folds_without_a_warning():
    model = _functional()
    listed = keras.Model([model.inputs[0]], model.outputs)  # as runs' model.keras files are
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # users read predict's stderr
        copy = folding.folded_for_inference(listed)
    assert _norms(copy) == 0


def test_a_sequential_model_folds():
    model = _with_trained_statistics(keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(4, 3),
        keras.layers.BatchNormalization(),
        keras.layers.Flatten(), keras.layers.Dense(10),
    ]))  # fmt: skip
    copy = folding.folded_for_inference(model)
    assert _norms(copy) == 0 and _same_answers(model, copy)


def test_a_convolution_read_elsewhere_too_keeps_its_normalization():
    model = _functional(shared_output=True)
    copy = folding.folded_for_inference(model)
    assert _norms(copy) == 1 and _same_answers(model, copy)


def test_bfloat16_layers_are_not_folded():
    model = _functional(policy="mixed_bfloat16")
    assert _norms(folding.folded_for_inference(model)) == 1  # the float32 dense one only


def test_a_copy_that_answers_differently_is_not_used(monkeypatch):
    model = _functional()

    def off_by_one_percent(producer, norm):
        kernel = producer.kernel.numpy()
        return [kernel * 1.01, np.zeros(kernel.shape[-1], np.float32)]

    monkeypatch.setattr(folding, "_folded_weights", off_by_one_percent)
    assert folding.folded_for_inference(model) is model


def test_a_model_with_nothing_to_fold_is_returned_as_it_is():
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    assert folding.folded_for_inference(model) is model


@pytest.mark.parametrize("name", ["cnn", "mlp", "fast_cnn", "resnet"])
def test_other_built_in_models_answer_alike(name):
    model = _built_in(name)
    assert _same_answers(model, folding.folded_for_inference(model))
