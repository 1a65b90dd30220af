"""Every option of every config group composes, validates and builds; bad input is refused."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import CONFIG_DIR, REPO_ROOT, compose_config, smoke_config
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException

from mnist_exp.errors import ConfigError
from mnist_exp.settings import parse_settings


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


@pytest.mark.parametrize(
    "group", ["dataset", "model", "optimizer", "schedule", "augment", "strategy", "precision"]
)
def test_readme_lists_every_option_of_every_group(group):
    """The README's config table names each option conf/ has (derived, never typed again)."""
    readme = (REPO_ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith(f"| `{group}` |"))
    missing = [option for option in options(group) if f"`{option}`" not in row]
    assert not missing, f"README's {group} row lacks {missing}"


def test_each_model_option_names_its_builder_whose_keys_it_sets():
    from mnist_exp.targets import read_parameters

    for model in options("model"):
        settings = parse_settings(smoke_config(f"model={model}"))
        assert settings.model.builder == f"mnist_exp.models.{model}.build_model"
        parameters = read_parameters(settings.model.builder, "model._target_")
        typed = {key: kind for key, kind in parameters.annotations.items() if kind}
        assert set(settings.model.arguments()) == set(typed) - {"input_shape", "num_classes"}


@pytest.mark.parametrize("model", options("model"))
def test_every_model_builds_with_its_config(model):
    from mnist_exp.models.builders import build_network

    settings = parse_settings(smoke_config(f"model={model}"))
    network = build_network(settings.model, input_shape=(28, 28, 1), num_classes=10)
    assert network.output_shape == (None, 10)
    probabilities = network.predict(np.zeros((2, 28, 28, 1), np.float32), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("optimizer", options("optimizer"))
@pytest.mark.parametrize("schedule", options("schedule"))
def test_every_optimizer_and_schedule_instantiates(optimizer, schedule):
    from mnist_exp.training.optimization import build_learning_rate, build_optimizer

    settings = parse_settings(smoke_config(f"optimizer={optimizer}", f"schedule={schedule}"))
    rate = build_learning_rate(
        settings.schedule, learning_rate=settings.learning_rate, steps_per_epoch=10, epochs=5
    )
    built = build_optimizer(settings.optimizer, rate)
    values = [float(rate(step)) if callable(rate) else rate for step in (0, 10, 25, 49)]
    assert all(np.isfinite(values)) and max(values) <= settings.learning_rate * (1 + 1e-6)
    assert float(built.learning_rate) > 0


def test_a_schedule_whose_keys_disagree_is_one_message_before_training():
    from mnist_exp.errors import ConfigError
    from mnist_exp.training.optimization import build_learning_rate

    for overrides, message in [
        (["schedule=step", "schedule.factors=[1.0]"], "needs one more factor than boundaries"),
        (["schedule=step", "schedule.boundaries=[8,4]"], r"boundaries=\[8, 4\] must be incr"),
        (["schedule=one_cycle", "schedule.peak_fraction=1.0"], r"peak_fraction=1.0 must be in"),
    ]:
        settings = parse_settings(smoke_config(*overrides))
        with pytest.raises(ConfigError, match=f"schedule={overrides[0][9:]} .*{message}"):
            build_learning_rate(settings.schedule, learning_rate=0.1, steps_per_epoch=10, epochs=2)


def test_one_cycle_rises_then_falls():
    from mnist_exp.training.schedules import OneCycle

    schedule = OneCycle(0.01, total_steps=100, peak_fraction=0.3, final_fraction=0.0)
    values = [float(schedule(step)) for step in range(101)]
    assert values[0] == pytest.approx(0.01 / 25)
    assert max(values) == pytest.approx(0.01) and int(np.argmax(values)) == 30
    assert values[-1] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("augment", options("augment"))
def test_every_augmentation_keeps_shape_and_range(augment):
    import tensorflow as tf

    from mnist_exp.data.augmentation import make_augmenter

    photos = ["dataset=fashion_mnist"] if augment == "natural" else []  # refused on digits
    settings = parse_settings(smoke_config(f"augment={augment}", *photos))
    augmenter = make_augmenter(settings.augment)
    if augment == "none":
        assert augmenter is None
        return
    images = tf.fill((8, 28, 28, 1), 200.0)
    seed = tf.constant([1, 2], tf.int64)
    out = augmenter(images, seed)
    assert out.shape == images.shape
    brightest = 255.0 if augment == "natural" else 200.0  # natural varies the brightness
    assert float(tf.reduce_min(out)) >= 0 and float(tf.reduce_max(out)) <= brightest + 1e-3
    assert not np.allclose(out.numpy(), images.numpy())
    np.testing.assert_array_equal(out.numpy(), augmenter(images, seed).numpy())


@pytest.mark.parametrize("strategy", sorted(set(options("strategy")) - {"multi_worker"}))
def test_every_strategy_builds(strategy):
    """multi_worker needs a cluster and a fresh process: see test_distributed.py."""
    from mnist_exp.training.strategy import build_strategy

    settings = parse_settings(smoke_config(f"strategy={strategy}"))
    assert build_strategy(settings.strategy).num_replicas_in_sync >= 1


def test_missing_gpu_device_is_a_clear_error():
    from mnist_exp.training.strategy import build_strategy

    settings = parse_settings(smoke_config("strategy=one_device", "strategy.device=/gpu:7"))
    with pytest.raises(ConfigError, match="does not exist on this machine"):
        build_strategy(settings.strategy)


@pytest.mark.parametrize("precision", options("precision"))
def test_every_precision_parses(precision):
    assert parse_settings(smoke_config(f"precision={precision}")).precision.policy == precision


def test_mixed_float16_without_gpu_is_refused():
    import tensorflow as tf

    from mnist_exp.training.trainable import set_precision

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    settings = parse_settings(smoke_config("precision=mixed_float16"))
    with pytest.raises(ConfigError, match="needs a GPU"):
        set_precision(settings.precision)


def test_the_readme_quotes_the_defaults_the_config_has():
    """Its group table marks the default options, its first command names the default run."""
    import re

    from hydra.core.global_hydra import GlobalHydra

    readme = (REPO_ROOT / "README.md").read_text()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        choices = compose("config", return_hydra_config=True).hydra.runtime.choices
    marked = dict(re.findall(r"^\| `(\w+)` \|.*?`(\w+)` \(default\)", readme, re.M))
    assert marked and all(choices[group] == option for group, option in marked.items()), marked
    settings = parse_settings(compose_config())
    (line,) = [line for line in readme.splitlines() if "# the default:" in line]
    assert (
        f"{settings.model.name}," in line and f"{settings.schedule.name.replace('_', '-')}" in line
    )
    assert f"{settings.trainer.epochs} epochs" in line


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.epochs=-1", "trainer.epochs=-1 must be >= 1"),
        ("trainer.batch_size=0", "trainer.batch_size=0 must be >= 1"),
        ("model.dropout_rate=1.0", r"model.dropout_rate=1.0 must be in \[0, 1\)"),
        ("trainer.label_smoothing=1.0", r"trainer.label_smoothing=1.0 must be in \[0, 1\)"),
        ("trainer.label_smoothing=-0.1", r"label_smoothing=-0.1 must be in \[0, 1\)"),
        ("trainer.epochs=abc", "trainer.*epochs"),
        ("+model.depth=3", "depth"),
        ("optimizer.learning_rate=-0.1", "learning_rate=-0.1 must be a positive"),
        ("+optimizer.use_ema=yes_please", "optimizer.use_ema='yes_please' must be true or false"),
        (
            "+optimizer.use_ema=true +optimizer.ema_momentum=1",
            r"ema_momentum=1 must be a number in \[0, 1\)",
        ),
        ("+optimizer.use_ema=true +optimizer.ema_momentum=0.999", None),
        (
            "optimizer._target_=keras_optimizers.Adam",
            "optimizer._target_=keras_optimizers.Adam: no",
        ),
        ("dataset.validation_size=0", "validation_size"),
        ("seed=1.5", "seed=1.5 must be a non-negative integer"),
        ("augment.zoom_fraction=2", "zoom_fraction=2.0 must be in"),
        ("augment.elastic_alpha=-1", "elastic_alpha must be >= 0"),
        ("augment.elastic_sigma=0", r"elastic_sigma=0.0 must be in 0.5..14"),
        ("augment.plain_final_share=0.6", r"plain_final_share=0.6 must be in \[0, 0.5\]"),
        ("model=fast_cnn", None),
        ("model.dropout_rate=abc", "model.dropout_rate='abc' must be a number in"),
        ("model.convs_per_block=1.5", r"model.convs_per_block=1.5 must be an integer >= 1"),
        ("schedule=step", None),
        ("trainer.checkpoint_monitor=val_acc", r"checkpoint_monitor='val_acc'.*'last'"),
        ("callbacks.early_stopping.monitor=accuracy", None),
        ("callbacks.early_stopping.monitor=last", r"early_stopping.monitor='last': expected"),
        ("callbacks.early_stopping.monitor=val_loss", r"early_stopping.mode='max': val_loss imp"),
        ("callbacks.early_stopping.monitor=val_loss callbacks.early_stopping.mode=auto", None),
        ("+callbacks=reduce_lr_on_plateau", "sets the learning rate itself.*schedule=constant"),
        (
            "+callbacks=reduce_lr_on_plateau schedule=constant "
            "callbacks.reduce_lr_on_plateau.monitor=val_los",
            "reduce_lr_on_plateau.monitor='val_los'",
        ),
        (
            "+metrics.top3._target_=keras.metrics.SparseTopKCategoricalAccuracy "
            "callbacks.early_stopping.monitor=val_top3 callbacks.early_stopping.mode=max",
            None,
        ),
    ],
)
def test_bad_values_get_one_clear_message(override, message):
    cfg = smoke_config(*override.split())
    if message is None:
        parse_settings(cfg)
        return
    with pytest.raises(ConfigError, match=message):
        parse_settings(cfg)


def test_fast_cnn_too_deep_for_the_image_names_the_stage():
    from mnist_exp.models import fast_cnn

    def build_model(crop, kernel_sizes):
        return fast_cnn.build_model(
            input_shape=(28, 28, 1), num_classes=10, crop=crop, filters=[8] * len(kernel_sizes),
            kernel_sizes=kernel_sizes, dense_units=16, dropout_rate=0.0, l2_regularization=0.0,
        )  # fmt: skip

    with pytest.raises(ValueError, match="stage 2: a 5x5 feature map is too small"):
        build_model(0, [5, 3, 5])
    with pytest.raises(ValueError, match=r"kernel_sizes=\[5\] needs one kernel size per entry"):
        fast_cnn.build_model(
            input_shape=(28, 28, 1), num_classes=10, crop=0, filters=[8, 8], kernel_sizes=[5],
            dense_units=16, dropout_rate=0.0, l2_regularization=0.0,
        )  # fmt: skip
    with pytest.raises(ValueError, match="model.crop=14 leaves nothing of a 28x28 image"):
        build_model(14, [3])
    # The crop is inside the model: it takes whole images and sees their middle.
    model = build_model(2, [5, 3])
    assert model.input_shape == (None, 28, 28, 1)
    assert model.get_layer("conv_0").output.shape[1:3] == (20, 20)


def test_strided_cnn_spans_the_last_map_and_refuses_too_many_blocks():
    from mnist_exp.models import strided_cnn

    def build_model(filters):
        return strided_cnn.build_model(
            input_shape=(28, 28, 1), num_classes=10, filters=filters, head_filters=32,
            dropout_rate=0.0, l2_regularization=0.0,
        )  # fmt: skip

    network = build_model([8, 16])
    # 28 -> 24 -> 12 -> 8 -> 4, then a 4x4 head convolution down to 1x1.
    assert network.get_layer("block1_downsample_conv").output.shape[1:3] == (4, 4)
    assert network.get_layer("head_conv").kernel.shape[:2] == (4, 4)
    assert network.get_layer("head_conv").output.shape[1:] == (1, 1, 32)
    with pytest.raises(ValueError, match="block 2: a 4x4 feature map is too small"):
        build_model([8, 8, 8])


def test_unknown_option_lists_the_available_ones():
    with pytest.raises(MissingConfigException, match="cnn_bn"):
        compose_config("model=transformer")


def test_every_experiment_preset_composes():
    presets = options("experiment")
    assert presets, "conf/experiment/ has no presets"
    for preset in presets:
        parse_settings(compose_config(f"+experiment={preset}"))


@pytest.mark.slow
@pytest.mark.parametrize("preset", options("experiment"))
def test_every_experiment_preset_trains_on_tiny_data(preset, tmp_path):
    """Each preset as written (model, schedule, augmentation, trainer), on 200 synthetic images
    for one epoch: it builds, trains and scores."""
    from mnist_exp.training.runner import run_experiment

    cfg = compose_config(
        f"+experiment={preset}",
        "dataset=synthetic",
        "dataset.max_train_examples=200",
        "dataset.max_test_examples=50",
        "dataset.validation_size=0.2",
        "trainer.epochs=1",
    )
    metrics = run_experiment(cfg, tmp_path)
    assert metrics["status"] == "completed" and metrics["epochs_run"] == 1
    assert metrics["num_train"] == 160


def test_histograms_and_graph_are_off_by_default():
    """They cost time every epoch (their effect when on: test_training)."""
    trainer = parse_settings(compose_config()).trainer
    assert trainer.histogram_freq == 0 and trainer.write_graph is False


def test_bfloat16_on_a_cpu_without_its_instructions_is_warned_about(monkeypatch, caplog):
    from mnist_exp.machine import cpu_has_bfloat16
    from mnist_exp.settings import PrecisionSettings
    from mnist_exp.training import trainable

    assert cpu_has_bfloat16("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n") is True
    assert cpu_has_bfloat16("flags\t\t: fpu avx2 amx_bf16\n") is True
    assert cpu_has_bfloat16("flags\t\t: fpu avx2\n") is False
    assert cpu_has_bfloat16("processor\t: 0\n") is None  # no flags line: unknown, no warning
    monkeypatch.setattr(trainable, "cpu_has_bfloat16", lambda: False)
    try:
        trainable.set_precision(PrecisionSettings(policy="mixed_bfloat16"))
        assert "no bfloat16 instructions" in caplog.text
        assert "precision=float32" in caplog.text
    finally:
        trainable.set_precision(PrecisionSettings(policy="float32"))


def test_steps_per_execution_must_divide_an_epochs_steps():
    from mnist_exp.training.batch_plan import BatchPlan

    def plan(*overrides):
        settings = parse_settings(smoke_config("trainer.batch_size=100", *overrides))
        return BatchPlan.for_run(settings, replicas=1, multi_worker=False, num_train=1000)

    with pytest.raises(
        ConfigError,
        match=r"steps_per_execution=4 does not divide the 10 steps "
        r"of an epoch \(1,000 images at batch 100\).* Use 1 or 2 or 5 or 10",
    ):
        plan("trainer.epochs=2", "trainer.steps_per_execution=4")
    assert plan("trainer.epochs=2", "trainer.steps_per_execution=5").steps_per_epoch == 10
    assert plan("trainer.epochs=1", "trainer.steps_per_execution=4").steps_per_epoch == 10


def test_builders_are_checked_from_their_source_without_tensorflow():
    """A model's and a schedule's keys are checked against their builders' parameters read
    from the source: parsing the settings imports neither TensorFlow nor Keras."""
    code = """
import sys
from hydra import compose, initialize_config_dir
from mnist_exp.settings import CONFIG_DIR, parse_settings
with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
    for overrides in (["model=fast_cnn", "schedule=step"], ["model=strided_cnn"]):
        settings = parse_settings(compose("config", overrides=["debug=smoke", *overrides]))
        assert settings.model.arguments() and settings.schedule.builder
print(sorted(name for name in ("tensorflow", "keras") if name in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
