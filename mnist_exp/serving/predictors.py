"""One interface over every form a trained model takes: a run directory, a `.keras` file, a
SavedModel, a `.tflite` or an `.onnx` file, each run by its own runtime (TensorFlow, the
ai-edge-litert interpreter, onnxruntime).

Every predictor takes raw pixels (uint8 or float 0..255) of the shape its model takes
(`ModelFacts.input`: [N, 28, 28] or [N, 28, 28, 1] for MNIST's; [N, H, W, 3] for a colour run)
and returns class probabilities [N, classes] as float32.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_exp.data.arrays import DIGIT_NAMES
from mnist_exp.errors import MnistExpError
from mnist_exp.extras import require
from mnist_exp.input_spec import MNIST_INPUT, MNIST_SHAPES, InputSpec
from mnist_exp.models.files import ModelFileError, load_keras_model
from mnist_exp.models.folding import folded_for_inference
from mnist_exp.models.graph_check import check_saved_model
from mnist_exp.runs import artifacts
from mnist_exp.runs.load import open_finished_run
from mnist_exp.tensorflow_threads import set_tensorflow_threads

EXPORT_FILE = "export.json"
CHUNK = 256  # 28x28 images per runtime call (Keras models: KerasPredictor.chunk)
MNIST_PIXELS = 28 * 28  # what `chunk` counts in: larger images go fewer to a call
# What `load_predictor` opens, as the commands' help says it.
MODEL_SOURCES = "run directory, .keras, SavedModel folder, .tflite, .onnx"


@dataclass(frozen=True)
class ModelFacts:
    """What a user is told about the model answering: where it came from, its classes and
    the images it takes."""

    path: str
    format: str
    class_names: tuple[str, ...]
    input: InputSpec = MNIST_INPUT
    run_dir: str | None = None
    model: str | None = None
    dataset: str | None = None
    test_accuracy: float | None = None

    def public(self) -> dict:
        """The facts a client is shown: the run and the model file by name, never a path on
        the server."""
        shown = {
            "run": Path(self.run_dir).name if self.run_dir else None,
            "file": Path(self.path).name,
            "format": self.format,
            "class_names": list(self.class_names),
            "input": self.input.record(),
            "model": self.model,
            "dataset": self.dataset,
            "test_accuracy": self.test_accuracy,
        }
        return {key: value for key, value in shown.items() if value is not None}

    @classmethod
    def of_run(cls, run) -> ModelFacts:
        """The facts of a finished run's `model.keras` (a `runs.load.Run`)."""
        return cls(
            path=str(run.model_path),
            format="keras",
            class_names=run.class_names,
            input=run.input_spec,
            run_dir=str(run.directory),
            model=run.metrics.get("model"),
            dataset=run.metrics.get("dataset"),
            test_accuracy=run.metrics.get("test_accuracy"),
        )


def check_shape(shape: tuple[int, ...], spec: InputSpec) -> None:
    """Raises ValueError unless `shape` is a batch of `spec`'s images ([N, H, W] too when
    they have one channel)."""
    batch = tuple(shape) + ((1,) if len(shape) == 3 and spec.channels == 1 else ())
    if len(batch) != 4 or batch[1:] != spec.shape:
        single = f"[N, {spec.height}, {spec.width}(, 1)]"
        expected = single if spec.channels == 1 else f"[N, {', '.join(map(str, spec.shape))}]"
        raise ValueError(f"expected images of shape {expected}, got {list(shape)}")


def as_batch(images: np.ndarray, spec: InputSpec = MNIST_INPUT) -> np.ndarray:
    """Pixels of `spec`'s shape ([N, H, W] also for one channel) as float32 [N, H, W, C]."""
    images = np.asarray(images)
    check_shape(images.shape, spec)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    return images.astype(np.float32, copy=False)


def spec_of_shape(shape, path: Path) -> InputSpec:
    """The input of a model known only by its input shape: MNIST's for 28x28x1; otherwise
    images taken as they are, at that size.

    Raises:
        ModelFileError: for a shape that is not images (H, W, 1 or 3).
    """
    shape = tuple(int(side) if side is not None else -1 for side in shape)
    if shape in MNIST_SHAPES:
        return MNIST_INPUT
    if len(shape) != 3 or shape[2] not in (1, 3) or min(shape[:2]) < 1:
        raise ModelFileError(
            f"{path} takes inputs of shape {shape}; mnist_exp predicts images: (height, width, "
            "1) grey or (height, width, 3) RGB, of a fixed size."
        )
    return InputSpec(shape[0], shape[1], shape[2], recipe="as_is")


class Predictor:
    """Base class: `predict` in chunks over `_predict_chunk`, which subclasses provide."""

    format = "?"
    chunk = CHUNK

    def __init__(self, facts: ModelFacts):
        self.facts = facts

    @property
    def images_per_call(self) -> int:
        """As many pixels as `chunk` MNIST digits, as a run's evaluation batches hold: a
        model's activations grow with its images (1,024 64x64 RGB images in one call took
        1.1 GB more than the model itself)."""
        pixels = self.facts.input.height * self.facts.input.width
        return max(1, min(self.chunk, self.chunk * MNIST_PIXELS // pixels))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities for `images` (an array, or a split kept on disk), converted and
        run a chunk at a time: memory holds one chunk's float32 pixels, not the whole set's."""
        if not hasattr(images, "shape"):
            images = np.asarray(images)
        check_shape(tuple(images.shape), self.facts.input)
        if len(images) == 0:
            return np.zeros((0, len(self.facts.class_names)), np.float32)
        step = self.images_per_call
        return np.concatenate(
            [
                self._predict_chunk(as_batch(images[start : start + step], self.facts.input))
                for start in range(0, len(images), step)
            ]
        ).astype(np.float32, copy=False)

    def _predict_chunk(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class KerasPredictor(Predictor):
    format = "keras"
    # TensorFlow answers 4-10% more images/s in calls of 1,024 than of 256 (the default cnn_bn
    # on 2 cores); ONNX Runtime and LiteRT gain nothing.
    chunk = 1024

    def __init__(self, model, facts: ModelFacts):
        import tensorflow as tf

        super().__init__(facts)
        self.model = model
        inference = folded_for_inference(model)
        spec = tf.TensorSpec([None, *facts.input.shape], tf.float32)
        self._call = tf.function(lambda x: inference(x, training=False), input_signature=[spec])

    def _predict_chunk(self, batch):
        return self._call(batch).numpy()


class SavedModelPredictor(Predictor):
    format = "saved_model"

    def __init__(self, directory: Path, facts: ModelFacts):
        import tensorflow as tf

        super().__init__(facts)
        check_saved_model(directory)  # before TensorFlow runs any of it
        try:
            loaded = tf.saved_model.load(str(directory))
            self._serve = loaded.signatures["serving_default"]
        except Exception as error:  # TF raises many kinds for a bad SavedModel
            raise ModelFileError(
                f"{directory} is not a usable SavedModel ({type(error).__name__}: "
                f"{str(error).splitlines()[0][:200]})."
            ) from None
        self._loaded = loaded  # keeps the signature's variables alive

    @property
    def input_shape(self) -> tuple | None:
        """None for a signature of any shape (ours for MNIST's input: [N,28,28] or 4-D)."""
        shape = self._serve.structured_input_signature[1]["images"].shape
        return None if shape.rank is None else tuple(shape[1:])

    def _predict_chunk(self, batch):
        import tensorflow as tf

        outputs = self._serve(images=tf.constant(batch))
        return next(iter(outputs.values())).numpy()


class TFLitePredictor(Predictor):
    """Runs a `.tflite` model with the ai-edge-litert interpreter; int8 inputs and outputs are
    quantized and dequantized with the model's own scale and zero point."""

    format = "tflite"

    def __init__(self, path: Path, facts: ModelFacts, num_threads: int | None = None):
        require("export", ("ai_edge_litert",))
        from ai_edge_litert.interpreter import Interpreter

        super().__init__(facts)
        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            # Custom and TensorFlow ("Flex") ops, which could reach files, are not in this
            # interpreter: a model that uses them is refused here, before it runs.
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            reason = " ".join(str(error).split())[:300]
            raise ModelFileError(f"{path} is not a usable TFLite model ({reason}).") from None
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self._batch = None

    @property
    def input_shape(self) -> tuple:
        return tuple(self._input["shape"][1:])

    def _resize(self, size: int) -> None:
        if size != self._batch:
            shape = [size, *self._input["shape"][1:]]
            self.interpreter.resize_tensor_input(self._input["index"], shape)
            self.interpreter.allocate_tensors()
            self._batch = size

    def _predict_chunk(self, batch):
        self._resize(len(batch))
        values = batch.reshape([len(batch), *self._input["shape"][1:]])
        scale, zero_point = self._input["quantization"]
        if self._input["dtype"] != np.float32:
            info = np.iinfo(self._input["dtype"])
            values = np.clip(np.rint(values / scale + zero_point), info.min, info.max)
        self.interpreter.set_tensor(self._input["index"], values.astype(self._input["dtype"]))
        self.interpreter.invoke()
        output = self.interpreter.get_tensor(self._output["index"])
        scale, zero_point = self._output["quantization"]
        if self._output["dtype"] != np.float32:
            output = (output.astype(np.float32) - zero_point) * scale
        return output


class OnnxPredictor(Predictor):
    format = "onnx"

    def __init__(self, path: Path, facts: ModelFacts, num_threads: int | None = None):
        require("export", ("onnxruntime",))
        import onnxruntime

        super().__init__(facts)
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own kinds for bad files
            raise ModelFileError(f"{path} is not a usable ONNX model ({error}).") from None
        self._input = self.session.get_inputs()[0].name

    @property
    def input_shape(self) -> tuple:
        return tuple(self.session.get_inputs()[0].shape[1:])

    def _predict_chunk(self, batch):
        return self.session.run(None, {self._input: batch})[0]


def _recorded_facts(path: Path, format_name: str, num_classes: int, input_shape) -> ModelFacts:
    """Class names, input and origin from the export.json beside an exported file (or above
    a SavedModel's version folder); without one, digits for MNIST's input shape and numbered
    classes otherwise, the input from the model's shape."""
    if exported := _export_record(path):
        return ModelFacts(
            path=str(path),
            format=format_name,
            class_names=tuple(exported["class_names"]),
            input=InputSpec.from_record(exported.get("input")),
            run_dir=exported.get("run_dir"),
            model=exported.get("model"),
            dataset=exported.get("dataset"),
            test_accuracy=exported.get("test_accuracy"),
        )
    spec = MNIST_INPUT if input_shape is None else spec_of_shape(input_shape, path)
    digits = num_classes == len(DIGIT_NAMES) and spec == MNIST_INPUT
    names = DIGIT_NAMES if digits else tuple(f"class {i}" for i in range(num_classes))
    return ModelFacts(path=str(path), format=format_name, class_names=names, input=spec)


def _export_record(path: Path) -> dict | None:
    """The export.json beside an exported file or above a SavedModel's version folder."""
    for folder in (path.parent, path.parent.parent, path.parent.parent.parent):
        record = folder / EXPORT_FILE
        if record.is_file():
            return json.loads(record.read_text())
    return None


def _check_input_shape(facts: ModelFacts, shape) -> None:
    """Refuses a model whose input shape (None: any) is not the one recorded for it."""
    if shape is not None and spec_of_shape(shape, Path(facts.path)).shape != facts.input.shape:
        raise ModelFileError(
            f"{facts.path} takes inputs of shape {tuple(shape)} but its record says "
            f"{facts.input.shape}; the model and its record do not belong together."
        )


def _checked(predictor: Predictor, num_outputs: int) -> Predictor:
    if num_outputs != len(predictor.facts.class_names):
        raise ModelFileError(
            f"{predictor.facts.path} has {num_outputs} outputs but "
            f"{len(predictor.facts.class_names)} class names are recorded for it; the model "
            "and its record do not belong together."
        )
    return predictor


def load_predictor(path: Path, num_threads: int | None = None) -> Predictor:
    """The predictor for `path`: a run directory, `.keras`, SavedModel directory, `.tflite`
    or `.onnx` file, its runtime on `num_threads` threads (None: the runtime's default).

    Raises:
        MnistExpError: naming the path and what is wrong (missing, damaged, unsafe, wrong
            input shape or class count, not a model).
    """
    path = Path(path)
    if not path.exists():
        raise MnistExpError(f"{path} does not exist.")
    if path.suffix.lower() not in (".tflite", ".onnx"):
        # A classifier is one chain of ops: more inter-op threads only contend (predict over
        # 10,000 PNGs: 5,535 against 5,348 images/s with two, median of three, 2026-12-04).
        set_tensorflow_threads(num_threads, inter_op=1)
    if path.is_dir() and (path / artifacts.METRICS_FILE).is_file():
        run = open_finished_run(path)
        model = run.load_model()
        facts = ModelFacts.of_run(run)
        _check_input_shape(facts, model.inputs[0].shape[1:])
        return _checked(KerasPredictor(model, facts), int(model.outputs[0].shape[-1]))
    suffix = path.suffix.lower()
    if suffix == ".keras" and (path.parent / artifacts.METRICS_FILE).is_file():
        return load_predictor(path.parent, num_threads)  # a run's model: the run's facts
    if suffix == ".keras":
        model = load_keras_model(path)
        outputs = int(model.outputs[0].shape[-1])
        facts = _recorded_facts(path, "keras", outputs, model.inputs[0].shape[1:])
        return _checked(KerasPredictor(model, facts), outputs)
    unnamed = ModelFacts(path=str(path), format="?", class_names=())
    if path.is_dir() and (path / "saved_model.pb").is_file():
        predictor = SavedModelPredictor(path, unnamed)
        shape = predictor.input_shape or MNIST_INPUT.shape
        outputs = predictor._predict_chunk(np.zeros((1, *shape), np.float32)).shape[-1]
    elif suffix == ".tflite":
        predictor = TFLitePredictor(path, unnamed, num_threads)
        outputs = int(predictor._output["shape"][-1])
    elif suffix == ".onnx":
        predictor = OnnxPredictor(path, unnamed, num_threads)
        outputs = int(predictor.session.get_outputs()[0].shape[-1])
    else:
        predictor = None
    if predictor is not None:
        predictor.facts = _recorded_facts(path, predictor.format, outputs, predictor.input_shape)
        _check_input_shape(predictor.facts, predictor.input_shape)
        return _checked(predictor, outputs)
    raise MnistExpError(
        f"{path} is not a model mnist_exp can run: give a run directory, a .keras file, a "
        "SavedModel directory (with saved_model.pb), a .tflite or an .onnx file."
    )
