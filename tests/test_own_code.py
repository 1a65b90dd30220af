"""Users' own things: folders of images with their own classes, `.npz` files with their own
class names, model builders in their own modules, and the extras a command needs; each bad
input refused with one message that names it."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
from conftest import compose_config, make_arrays, smoke_config
from drawn_shapes import drawn
from PIL import Image

from mnist_exp.data.folder import read_folder
from mnist_exp.data.sources import load_dataset
from mnist_exp.errors import ConfigError, DataError
from mnist_exp.input_spec import InputSpec
from mnist_exp.settings import BuilderSettings, parse_settings


def write_shapes(root, classes: dict[str, int], per_class: int = 4, size=(60, 80)) -> None:
    for name, label in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            canvas = (size[0] + 7 * index, size[1])  # mixed sizes: converted alike
            drawn(label, np.random.default_rng(index), canvas=canvas).save(
                root / name / f"{index}.png"
            )


def test_a_folder_of_class_folders_becomes_a_dataset_with_its_names(tmp_path, caplog):
    write_shapes(tmp_path / "pics", {"ring": 0, "bar": 1, "cross": 3}, per_class=5)
    caplog.set_level(logging.INFO, "mnist_exp.data.folder")
    data = load_dataset("folder", path=str(tmp_path / "pics"), cache_dir=str(tmp_path / "c"))
    assert data.class_names == ("bar", "cross", "ring")
    # as they are: grey drawings stay grey, at the most common size (each index's width
    # differs, so the first file's 60x80 wins the tie), as (height, width)
    assert data.x_train.shape[1:] == (80, 60) and data.x_train.dtype == np.uint8
    assert data.input_spec == InputSpec(80, 60, 1, "as_is")
    assert np.bincount(data.y_test).tolist() == [1, 1, 1]  # 0.2 of 5 per class, held out
    assert len(data.y_train) == 12
    assert "Converting" in caplog.text

    caplog.clear()
    again = load_dataset("folder", path=str(tmp_path / "pics"), cache_dir=str(tmp_path / "c"))
    assert "Converting" not in caplog.text  # from the cache
    assert np.array_equal(again.x_train, data.x_train)
    drawn(9, np.random.default_rng(9)).save(tmp_path / "pics" / "bar" / "0.png")  # changed
    load_dataset("folder", path=str(tmp_path / "pics"), cache_dir=str(tmp_path / "c"))
    assert "Converting" in caplog.text


def test_a_given_test_folder_is_the_test_split(tmp_path):
    write_shapes(tmp_path / "pics", {"ring": 0, "bar": 1}, per_class=3)
    write_shapes(tmp_path / "pics" / "test", {"ring": 0, "bar": 1}, per_class=2)
    arrays = read_folder(tmp_path / "pics", tmp_path / "cache", 0.2, seed=0)
    assert arrays["class_names"] == ("bar", "ring")
    assert len(arrays["y_train"]) == 6 and len(arrays["y_test"]) == 4


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root.mkdir(), "0 class folder(s) (none)"),
        (lambda root: write_shapes(root, {"ring": 0}), "1 class folder(s) (ring)"),
        (
            lambda root: (
                write_shapes(root, {"ring": 0, "bar": 1}),
                (root / "bar" / "notes.txt").write_text("hello"),
            ),
            "1 file(s) are not images (bar/notes.txt)",
        ),
        (
            lambda root: (
                write_shapes(root, {"ring": 0, "bar": 1}),
                (root / "bar" / "broken.png").write_bytes(b"\x89PNG not really"),
            ),
            "1 image(s) cannot be read",
        ),
        (
            lambda root: write_shapes(root, {"ring": 0, "bar": 1}, per_class=1),
            "too few images in 2 class(es) (bar: 0 train, 1 test; ring: 0 train, 1 test)",
        ),
        (
            lambda root: (
                write_shapes(root, {"ring": 0, "bar": 1}),
                write_shapes(root / "test", {"ring": 0}, per_class=1),
                (root / "test" / "bar").mkdir(),
            ),
            "bar: 4 train, 0 test",
        ),
    ],
    ids=["empty", "one-class", "not-an-image", "unreadable", "too-few", "no-test-images"],
)
def test_bad_folders_are_refused_by_name(tmp_path, make, message):
    root = tmp_path / "pics"
    make(root)
    with pytest.raises(DataError) as refused:
        read_folder(root, tmp_path / "cache", 0.2, seed=0)
    assert message in str(refused.value)


def test_an_npz_may_name_its_own_classes(tmp_path):
    arrays = make_arrays(120, 48)
    arrays["y_train"] = np.arange(120) % 12
    arrays["y_test"] = np.arange(48) % 12
    names = np.array([f"glyph{i}" for i in range(12)])
    np.savez(tmp_path / "glyphs.npz", **arrays, class_names=names)
    data = load_dataset("mnist", path=str(tmp_path / "glyphs.npz"), download=False)
    assert data.class_names == tuple(names) and len(data.class_names) == 12


def test_folder_options_and_foreign_dataset_keys_are_checked_before_tensorflow(tmp_path):
    with pytest.raises(ConfigError, match="dataset=folder needs dataset.path"):
        parse_settings(compose_config("dataset=folder", "dataset.path=null"))
    with pytest.raises(ConfigError, match="dataset=synthetic does not use dataset.path"):
        parse_settings(smoke_config("+dataset.path=/tmp/does/not/exist"))
    with pytest.raises(ConfigError, match="test_fraction=1.5"):
        parse_settings(compose_config("dataset=folder", f"dataset.path={tmp_path}",
                                      "dataset.test_fraction=1.5"))  # fmt: skip


BUILDERS = """
import keras
from mnist_exp.builder_types import Fraction, Positive, Rate

def good(input_shape, num_classes, units=8):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))

def not_a_model(input_shape, num_classes):
    return "a model, I promise"

def three_outputs(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))

def typed(input_shape, num_classes, *, depth: Positive, rate: Rate = 0.1):
    return good(input_shape, num_classes)

assigned = good  # no `def` of its own: its keys are checked when it is called

def warm_start(learning_rate, steps_per_epoch, epochs, *, start: Fraction = 0.1):
    return keras.optimizers.schedules.PolynomialDecay(
        learning_rate * start, steps_per_epoch * epochs, learning_rate, power=1.0
    )

not_callable = 42
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module of the user's in the working directory (not on sys.path yet)."""
    (tmp_path / "user_nets.py").write_text(BUILDERS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    yield
    sys.modules.pop("user_nets", None)


def builder_config(target: str, *extra: str):
    removed = ("~model.hidden_units", "~model.dropout_rate", "~model.l2_regularization")
    return smoke_config("model=mlp", f"model._target_={target}", *removed, *extra)


def test_a_users_builder_in_the_working_directory_builds_the_model(user_module):
    from mnist_exp.models.builders import build_network

    settings = parse_settings(builder_config("user_nets.good", "+model.units=4"))
    assert settings.model == BuilderSettings("user_nets.good", "mlp", {"units": 4})
    model = build_network(settings.model, (28, 28, 1), 10)
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nowhere_nets.good", "no module named 'nowhere_nets' in the working directory"),
        ("user_nets.missing", "module 'user_nets'"),
        ("user_nets.not_callable", "has no function 'not_callable'"),
        ("user_nets.not_a_model", "returned str, not a keras.Model"),
        ("user_nets.three_outputs", "must be (None, 10)"),
        ("user_nets.assigned", "refused its arguments"),
        ("user_nets.good", "model=mlp does not use model.colour; its keys are model.units."),
        ("user_nets.typed", "model=mlp needs model.depth (user_nets.typed has no default"),
    ],
)
def test_a_bad_builder_is_one_message(user_module, target, message):
    from mnist_exp.models.builders import build_network

    extra = ("+model.colour=red",) if "colour" in message or "refused" in message else ()
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_network(parse_settings(builder_config(target, *extra)).model, (28, 28, 1), 10)


def test_a_builder_in_a_package_is_checked_without_importing_the_package(tmp_path, monkeypatch):
    """The builder's names and keys are read from its source; the package's __init__ (which
    may start TensorFlow) is not run. It was run, and an error there left the keys unchecked."""
    package = tmp_path / "heavy_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('the package was imported')\n")
    (package / "nets.py").write_text(BUILDERS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    with pytest.raises(ConfigError, match="model=mlp does not use model.colour"):
        parse_settings(builder_config("heavy_pkg.nets.good", "+model.colour=red"))
    with pytest.raises(ConfigError, match=r"module 'heavy_pkg.nets' \(.*nets.py\) has no 'gone'"):
        parse_settings(builder_config("heavy_pkg.nets.gone"))
    assert "heavy_pkg" not in sys.modules


def test_only_a_name_the_source_surely_lacks_is_refused(tmp_path, monkeypatch):
    """Names bound under try/except, loops and `with` count; a module that may bind names its
    source does not spell out (globals(), a star import) is left to the import to judge."""
    from mnist_exp.targets import find_target

    (tmp_path / "plain_mod.py").write_text(
        "try:\n    from math import floor as made\nexcept ImportError:\n    made = None\n"
        "for looped in range(2):\n    pass\n"
    )
    (tmp_path / "dynamic_mod.py").write_text("globals()['made'] = 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    for target in ("plain_mod.made", "plain_mod.looped", "dynamic_mod.made", "dynamic_mod.x"):
        find_target(target, "callbacks.x._target_")
    with pytest.raises(ConfigError, match="module 'plain_mod' .* has no 'absent'"):
        find_target("plain_mod.absent", "callbacks.x._target_")


def test_a_users_builder_has_its_values_checked_by_the_types_it_writes(user_module):
    with pytest.raises(ConfigError, match=r"model.rate=2 must be in \[0, 1\)"):
        parse_settings(builder_config("user_nets.typed", "+model.depth=2", "+model.rate=2"))
    with pytest.raises(ConfigError, match="model.depth='deep' must be an integer >= 1"):
        parse_settings(builder_config("user_nets.typed", "+model.depth=deep"))


def test_a_users_schedule_is_a_builder_like_the_built_in_ones(user_module):
    from mnist_exp.training.optimization import build_learning_rate

    own = ("schedule=constant", "schedule._target_=user_nets.warm_start", "schedule.name=warm")
    settings = parse_settings(smoke_config(*own, "+schedule.start=0.5"))
    rate = build_learning_rate(settings.schedule, learning_rate=0.1, steps_per_epoch=5, epochs=2)
    assert float(rate(0)) == pytest.approx(0.05) and float(rate(10)) == pytest.approx(0.1)
    with pytest.raises(ConfigError, match=r"schedule.start=2 must be in \[0, 1\]"):
        parse_settings(smoke_config(*own, "+schedule.start=2"))
    with pytest.raises(ConfigError, match="schedule.epochs is supplied by mnist_exp"):
        parse_settings(smoke_config(*own, "+schedule.epochs=3"))


def test_a_builder_module_that_would_not_import_is_refused_before_tensorflow(user_module, tmp_path):
    (tmp_path / "broken_nets.py").write_text("def build(input_shape, num_classes:\n")
    (tmp_path / "binary_nets.py").write_bytes(b"\x00\x01\x02")
    for module in ("broken_nets", "binary_nets"):
        refused = f"importing '{module}' failed: (Syntax|Value)Error"
        with pytest.raises(ConfigError, match=refused):
            parse_settings(builder_config(f"{module}.build"))


def test_keys_the_framework_supplies_are_refused_in_a_builder_option(user_module):
    with pytest.raises(ConfigError, match="model.num_classes is supplied by mnist_exp"):
        parse_settings(builder_config("user_nets.good", "+model.num_classes=3"))


def test_a_command_whose_extra_is_missing_names_it(monkeypatch, capsys):
    import importlib.util

    from mnist_exp import extras

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a)
    )
    with pytest.raises(SystemExit) as ended:
        extras.require_for_command("serve", "mnist-exp-serve")
    assert ended.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "mnist-exp-serve: this needs mnist_exp's 'serve' extra (gradio not installed): "
        "pip install 'mnist_exp[serve]'"
    )


def test_a_blank_training_image_is_kept_as_the_recipe_makes_it(tmp_path):
    write_shapes(tmp_path / "pics", {"ring": 0, "bar": 1}, per_class=4)
    Image.new("L", (40, 40), 255).save(tmp_path / "pics" / "bar" / "blank.png")
    arrays = read_folder(tmp_path / "pics", tmp_path / "cache", 0.2, seed=0)
    assert len(arrays["y_train"]) + len(arrays["y_test"]) == 9


def test_a_refused_single_run_writes_nothing(tmp_path, user_module):
    from mnist_exp.training.job import Job, run_job

    write_shapes(tmp_path / "one_class", {"ring": 0})
    cfg = compose_config("dataset=folder", f"dataset.path={tmp_path / 'one_class'}")
    with pytest.raises(DataError, match="1 class folder"):
        run_job(cfg, Job(output_dir=tmp_path / "run"))
    with pytest.raises(ConfigError, match="no module named 'nowhere_nets'"):
        run_job(builder_config("nowhere_nets.good"), Job(output_dir=tmp_path / "run"))
    assert not (tmp_path / "run").exists()
