"""Saved models: a damaged, missing or code-carrying `.keras` file is named for what it is."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist_exp.models.files import ModelFileError, load_keras_model


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    model = keras.Sequential(
        [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    path = tmp_path_factory.mktemp("model") / "model.keras"
    model.save(path)
    return path


def test_an_intact_model_loads_and_predicts_as_saved(saved_model):
    images = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    again = load_keras_model(saved_model)
    assert again.predict(images, verbose=0).shape == (3, 10)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[: len(data) // 2], "is damaged .*not a zip archive"),
        (lambda data: bytes(np.random.default_rng(1).integers(0, 256, 4096, np.uint8)), "damaged"),
        (lambda data: data[:200] + bytes(b ^ 0xFF for b in data[200:260]) + data[260:], "damaged"),
    ],
    ids=["truncated", "random-bytes", "flipped-bytes"],
)
def test_a_damaged_model_is_called_damaged_not_missing(saved_model, tmp_path, damage, message):
    broken = tmp_path / "model.keras"
    broken.write_bytes(damage(saved_model.read_bytes()))
    with pytest.raises(ModelFileError, match=message) as caught:
        load_keras_model(broken)
    assert "not found" not in str(caught.value).lower()


def test_a_missing_model_is_called_missing(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_keras_model(tmp_path / "model.keras")


def test_a_model_with_a_lambda_payload_is_refused_by_safe_mode(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    path = tmp_path / "payload.keras"
    model.save(path)
    with pytest.raises(ModelFileError, match="safe mode refuses"):
        load_keras_model(path)
