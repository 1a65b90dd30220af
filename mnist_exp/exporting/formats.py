"""The export formats: how each is written from the Keras model, where it goes in
RUN/export/, and the agreement with the Keras model it must reach to be accepted.

Thresholds: float formats compute what Keras computes, so every test image must get the same
class (100%). Int8 formats round weights (and, for full-integer, activations) to 256 levels;
probabilities move by about 1e-2, which flips only images the model is unsure about. 99.5%
allows 50 of MNIST's 10,000 test images to change class, at most 0.5 points of accuracy: a
bigger change means the calibration or the conversion went wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_exp.input_spec import MNIST_SHAPES

FLOAT_AGREEMENT = 1.0
INT8_AGREEMENT = 0.995


@dataclass(frozen=True)
class ExportFormat:
    name: str
    path: str  # inside RUN/export/
    runtime: str
    min_agreement: float
    write: Callable  # (model, destination: Path, calibration: np.ndarray) -> None


def _serving_function(model):
    """Raw pixels of any layout the README names (for MNIST's input [N,28,28] or
    [N,28,28,1]; [N,H,W,C] for others; uint8 or float) in, probabilities out, for the
    SavedModel's signatures."""
    import tensorflow as tf

    shape = _image_shape(model)

    def probabilities(images):
        images = tf.reshape(tf.cast(images, tf.float32), [-1, *shape])
        return {"probabilities": model(images, training=False)}

    return probabilities


def _image_shape(model) -> tuple[int, ...]:
    """(height, width, channels) of the images `model` takes."""
    return tuple(model.inputs[0].shape[1:])


def write_saved_model(model, destination: Path, calibration) -> None:
    """A SavedModel in TF Serving's layout (`saved_model/1/`), signatures `serving_default`
    (float pixels) and `serving_uint8` (uint8 pixels): of any rank 3 or 4 for MNIST's input,
    [N, H, W, C] for others (the signature then says the shape)."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    function = _serving_function(model)
    shape = _image_shape(model)
    any_layout = shape in MNIST_SHAPES
    for name, dtype in (("serving_default", tf.float32), ("serving_uint8", tf.uint8)):
        spec = tf.TensorSpec(None if any_layout else [None, *shape], dtype, name="images")
        archive.add_endpoint(name=name, fn=function, input_signature=[spec])
    archive.write_out(str(destination), verbose=False)


def _converter(model, optimize: bool):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter


def write_tflite_float(model, destination: Path, calibration) -> None:
    destination.write_bytes(_converter(model, optimize=False).convert())


def write_tflite_dynamic_range(model, destination: Path, calibration) -> None:
    """Int8 weights, float activations: a quarter of the size, no calibration needed."""
    destination.write_bytes(_converter(model, optimize=True).convert())


def write_tflite_int8(model, destination: Path, calibration: np.ndarray) -> None:
    """Full-integer: int8 weights, activations, input and output, calibrated on
    `calibration` (training images of the run's own data, never the test set)."""
    import tensorflow as tf

    def representative() -> Iterator[list[np.ndarray]]:
        for image in calibration:
            yield [image.reshape(1, *_image_shape(model)).astype(np.float32)]

    converter = _converter(model, optimize=True)
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    destination.write_bytes(converter.convert())


def write_onnx(model, destination: Path, calibration) -> None:
    model.export(str(destination), format="onnx", verbose=False)


FORMATS = {
    format.name: format
    for format in (
        ExportFormat(
            "saved_model", "saved_model/1", "TensorFlow", FLOAT_AGREEMENT, write_saved_model
        ),
        ExportFormat(
            "tflite_float32", "model_float32.tflite", "ai-edge-litert", FLOAT_AGREEMENT,
            write_tflite_float,
        ),
        ExportFormat(
            "tflite_dynamic_range", "model_dynamic_range.tflite", "ai-edge-litert",
            INT8_AGREEMENT, write_tflite_dynamic_range,
        ),
        ExportFormat(
            "tflite_int8", "model_int8.tflite", "ai-edge-litert", INT8_AGREEMENT,
            write_tflite_int8,
        ),
        ExportFormat("onnx", "model.onnx", "onnxruntime", FLOAT_AGREEMENT, write_onnx),
    )
}  # fmt: skip
