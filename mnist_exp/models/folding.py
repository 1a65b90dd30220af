"""An inference copy of a model with each batch normalization folded into the convolution or
dense layer before it: BN(x * K + b) = x * (K * s) + (b - mean) * s + beta, s = gamma /
sqrt(variance + epsilon). One layer's work instead of three passes over the activations: the
default cnn_bn answers 1.2-1.35x the images/s on 2 cores (experiments/README.md).

Only what folds exactly is folded: float32 Conv2D / Dense layers without an activation whose
output feeds nothing but a channels-last BatchNormalization. The copy must answer as the model
does on a probe batch, or the model itself is used.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

PROBE_IMAGES = 16
TOLERANCE = 1e-4  # float32 rounding of the folded weights moves outputs by ~1e-6


def folded_for_inference(model):
    """`model`, or a copy with its batch normalizations folded (see the module's docstring).

    Models that cannot be cloned (subclassed ones) and models with nothing to fold come back
    unchanged.
    """
    import keras

    pairs = _foldable_pairs(model)
    if not pairs:
        return model
    folded_into = {producer: norm for norm, producer in pairs.items()}

    def clone(layer):
        if layer in pairs:
            return keras.layers.Identity(name=layer.name)
        config = layer.get_config()
        if layer in folded_into:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    def call(layer, *inputs, **options):  # functional models: a folded norm passes through
        return inputs[0] if isinstance(layer, keras.layers.Identity) else layer(*inputs, **options)

    clone_options = {} if isinstance(model, keras.Sequential) else {"call_function": call}
    try:
        copy = keras.models.clone_model(model, clone_function=clone, **clone_options)
    except (ValueError, TypeError):
        return model
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer in folded_into:
            copy.get_layer(layer.name).set_weights(_folded_weights(layer, folded_into[layer]))
        elif layer not in pairs:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy if _answers_alike(model, copy) else model


def _foldable_pairs(model) -> dict:
    """{batch normalization layer: the layer it folds into}."""
    import keras

    graph = _graph(model)
    if graph is None:
        return {}
    edges, outputs, calls = graph
    layers = {layer.name: layer for layer in model.layers}
    consumers: dict[str, list[str]] = {}
    for source, target in edges:
        consumers.setdefault(source, []).append(target)
    producers = {target: source for source, target in edges}
    pairs = {}
    for name, layer in layers.items():
        producer = layers.get(producers.get(name, ""))
        if (
            isinstance(layer, keras.layers.BatchNormalization)
            and producer is not None
            and calls.get(name) == calls.get(producer.name) == 1
            and consumers.get(producer.name) == [name]
            and producer.name not in outputs
            and _folds(producer, layer)
        ):
            pairs[layer] = producer
    return pairs


def _graph(model) -> tuple[list[tuple[str, str]], set[str], dict[str, int]] | None:
    """A Sequential or functional model's (source, target) layer edges, output layers and
    calls per layer, from the model's config (the format `.keras` files keep); None for a
    model without one (subclassed)."""
    import keras

    if isinstance(model, keras.Sequential):
        ordered = list(model.layers)
        edges = [(before.name, after.name) for before, after in itertools.pairwise(ordered)]
        outputs = {ordered[-1].name} if ordered else set()
        return edges, outputs, {layer.name: 1 for layer in ordered}
    try:
        config = model.get_config()
    except NotImplementedError:
        return None
    if not (isinstance(config, dict) and {"layers", "output_layers"} <= config.keys()):
        return None
    edges = [
        (source, entry["name"])
        for entry in config["layers"]
        for node in entry.get("inbound_nodes", [])
        for source in _sources(node)
    ]
    calls = {entry["name"]: len(entry.get("inbound_nodes", [])) for entry in config["layers"]}
    return edges, set(_sources(config["output_layers"])), calls


def _sources(structure) -> list[str]:
    """Names of the layers whose outputs a serialized node (or output list) reads."""
    if isinstance(structure, dict):
        history = structure.get("keras_history")
        if history is not None:
            return [history[0]]
        return [name for value in structure.values() for name in _sources(value)]
    if isinstance(structure, list | tuple):
        if len(structure) == 3 and isinstance(structure[0], str):
            return [structure[0]]  # an output_layers entry: [name, node index, tensor index]
        return [name for value in structure for name in _sources(value)]
    return []


def _folds(producer, norm) -> bool:
    import keras

    exact_type = type(producer) in (keras.layers.Conv2D, keras.layers.Dense)
    config = producer.get_config()
    channels_last = config.get("data_format", "channels_last") == "channels_last"
    last_axis = norm.axis in (-1, len(producer.output.shape) - 1)
    float32 = all(
        layer.dtype_policy.compute_dtype == "float32"
        and layer.dtype_policy.variable_dtype == "float32"
        for layer in (producer, norm)
    )
    linear = config.get("activation") == "linear"
    return exact_type and channels_last and last_axis and float32 and linear


def _folded_weights(producer, norm) -> list[np.ndarray]:
    kernel = producer.kernel.numpy()
    bias = producer.bias.numpy() if producer.use_bias else np.zeros(kernel.shape[-1], np.float32)
    mean = norm.moving_mean.numpy()
    scale = norm.gamma.numpy() if norm.scale else np.ones_like(mean)
    shift = norm.beta.numpy() if norm.center else np.zeros_like(mean)
    factor = scale / np.sqrt(norm.moving_variance.numpy() + norm.epsilon)
    return [kernel * factor, (bias - mean) * factor + shift]


def _answers_alike(model, copy) -> bool:
    shape = [PROBE_IMAGES, *model.inputs[0].shape[1:]]
    probe = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    with warnings.catch_warnings():  # models saved with a list of one input warn when called
        warnings.filterwarnings("ignore", message="The structure of `inputs`")
        expected = np.asarray(model(probe, training=False))
        answered = np.asarray(copy(probe, training=False))
    return expected.shape == answered.shape and bool(
        np.allclose(expected, answered, rtol=TOLERANCE, atol=TOLERANCE)
    )
