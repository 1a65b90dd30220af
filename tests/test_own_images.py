"""Users' folders of images as they are (issue 44): colour and size kept, small folders
trained well by the defaults, and new images predicted, exported and served by the run's own
recipe. The training tests run `python -m mnist_exp` as users do."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from conftest import compose_config, free_port, run_module
from drawn_shapes import drawn
from omegaconf import OmegaConf
from PIL import Image, ImageDraw

from mnist_exp.cli.predict import main as predict_main
from mnist_exp.data.folder import read_folder
from mnist_exp.errors import ConfigError
from mnist_exp.input_spec import InputSpec
from mnist_exp.runs.migrate import upgraded_config
from mnist_exp.settings import parse_settings

COLOURS = {"blue": (40, 60, 200), "green": (40, 170, 60), "red": (200, 40, 40)}


def colour_blob(colour, rng, size=(48, 48)) -> Image.Image:
    """A blob of `colour` (jittered) of random shape, size and place on a random light
    background: its class is its colour alone."""
    width, height = size
    image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(200, 256, 3)))
    left, top = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
    right = left + int(rng.integers(10, width // 2))
    bottom = top + int(rng.integers(10, height // 2))
    fill = tuple(
        int(np.clip(c + j, 0, 255)) for c, j in zip(colour, rng.integers(-30, 31, 3), strict=True)
    )
    draw = ImageDraw.Draw(image)
    (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((left, top, right, bottom), fill)
    return image


def write_colour_folder(root, per_class: int = 40) -> None:
    """Three classes told apart by colour only; every fourth image 64x40 (mixed sizes)."""
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            size = (64, 40) if index % 4 == 0 else (48, 48)
            colour_blob(colour, rng, size).save(root / name / f"{index}.png")


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def trained(tmp_path, folder, *overrides: str) -> dict:
    run_dir = tmp_path / "run"
    result = run_module(
        "mnist_exp",
        "dataset=folder",
        f"dataset.path={folder}",
        f"hydra.run.dir={run_dir}",
        *overrides,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_a_colour_folder_is_learnt_predicted_and_served_in_colour(tmp_path, capsys):
    write_colour_folder(tmp_path / "colours")
    metrics = trained(tmp_path, tmp_path / "colours")
    assert metrics["input"] == {"height": 48, "width": 48, "channels": 3, "recipe": "as_is"}
    assert metrics["test_accuracy"] >= 0.95, metrics
    assert metrics["adapted_for_small_data"]["trainer.batch_size"] == 16

    rng = np.random.default_rng(7)
    new = tmp_path / "new"
    new.mkdir()
    for name, colour in COLOURS.items():  # larger, and JPEG: scaled and read as the run's
        colour_blob(colour, rng, (90, 70)).save(new / f"{name}.jpg", quality=95)
    predicted = run_module(
        "mnist_exp.cli.predict", str(tmp_path / "run"), str(new), "--format", "json", cwd=tmp_path
    )
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert {row["path"].rsplit("/", 1)[-1]: row["class_name"] for row in rows} == {
        f"{name}.jpg": name for name in COLOURS
    }
    assert predict_main([str(tmp_path / "run"), str(new), "--no-preprocess"]) == 2
    assert "48x48 RGB, as it is" in capsys.readouterr().err

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp.cli.serve", str(tmp_path / "run"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read()
            time.sleep(0.3)
        red = colour_blob(COLOURS["red"], rng, (48, 48))
        files = [("files", ("red.png", png(red), "image/png"))]
        answer = httpx.post(f"{url}/api/predict", files=files, timeout=30).json()
        assert answer["predictions"][0]["class_name"] == "red", answer
        body = {"instances": [np.asarray(red).tolist()]}  # TF Serving's row format, 48x48x3
        scores = httpx.post(f"{url}/v1/models/mnist:predict", json=body, timeout=30).json()
        assert np.argmax(scores["predictions"][0]) == list(COLOURS).index("red")
        grey = {"instances": [[[0] * 48] * 48]}
        refused = httpx.post(f"{url}/v1/models/mnist:predict", json=grey, timeout=30)
        assert refused.status_code == 422 and "48x48x3" in refused.json()["error"]
        metadata = httpx.get(f"{url}/v1/models/mnist/metadata", timeout=30).json()
        signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
        dims = signature["inputs"]["images"]["tensor_shape"]["dim"]
        assert [int(dim["size"]) for dim in dims] == [-1, 48, 48, 3]
    finally:
        server.kill()
        server.wait()


@pytest.mark.slow
def test_a_small_grey_folder_reaches_095_with_the_defaults(tmp_path):
    rng = np.random.default_rng(0)
    for name, label in {"ring": 0, "bar": 1, "cross": 3}.items():
        (tmp_path / "shapes" / name).mkdir(parents=True)
        for index in range(80):
            drawn(label, rng, canvas=(40, 40)).save(tmp_path / "shapes" / name / f"{index}.png")
    metrics = trained(tmp_path, tmp_path / "shapes")
    assert metrics["input"] == {"height": 40, "width": 40, "channels": 1, "recipe": "as_is"}
    assert metrics["adapted_for_small_data"]["augment"] == "light"
    assert metrics["test_accuracy"] >= 0.95, metrics


def test_mixed_sizes_and_modes_become_one_size_and_mode(tmp_path):
    root = tmp_path / "mixed"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
    Image.new("L", (30, 20), 90).save(root / "a" / "grey.png")
    Image.new("L", (30, 20), 40).save(root / "a" / "grey2.png")
    Image.new("RGBA", (60, 40), (255, 0, 0, 0)).save(root / "a" / "transparent.png")
    Image.new("P", (16, 16)).save(root / "b" / "palette.gif")
    Image.new("I;16", (30, 20), 65535).save(root / "b" / "deep.png")
    Image.new("RGB", (300, 100), (0, 0, 255)).save(root / "b" / "wide.jpg")
    arrays = read_folder(root, tmp_path / "cache", 0.34, seed=0)
    assert arrays["x_train"].shape[1:] == (20, 30, 3)  # most common size; colour present
    assert arrays["recipe"] == "as_is"
    every = np.concatenate([arrays["x_train"], arrays["x_test"]])
    assert (every.reshape(-1, 3) == 255).all(axis=1).any()  # transparency on white
    grey = read_folder(root, tmp_path / "cache", 0.34, 0, "as_is", (10, 12), "grayscale")
    assert grey["x_train"].shape[1:] == (10, 12)
    digits = read_folder(root, tmp_path / "cache", 0.34, 0, "digits")
    assert digits["x_train"].shape[1:] == (28, 28)


def test_the_folder_options_are_checked_and_old_folder_runs_keep_the_digit_recipe(tmp_path):
    with pytest.raises(ConfigError, match="dataset.recipe='photo'"):
        parse_settings(compose_config("dataset=folder", "dataset.path=x", "dataset.recipe=photo"))
    with pytest.raises(ConfigError, match="takes no dataset.image_size"):
        parse_settings(
            compose_config(
                "dataset=folder",
                "dataset.path=x",
                "dataset.recipe=digits",
                "dataset.image_size=[9,9]",
            )
        )
    with pytest.raises(ConfigError, match="dataset.color_mode='cmyk'"):
        parse_settings(
            compose_config("dataset=folder", "dataset.path=x", "dataset.color_mode=cmyk")
        )
    recorded = OmegaConf.to_container(compose_config("dataset=folder", "dataset.path=x"))
    for key in ("recipe", "image_size", "color_mode", "small_below"):
        del recorded["dataset"][key]  # as runs recorded them before these keys existed
    old = OmegaConf.create(recorded)
    upgraded = upgraded_config(old).dataset
    assert (upgraded.recipe, upgraded.small_below) == ("digits", 0)
    assert InputSpec.from_record(None) == InputSpec(28, 28, 1, "digits")


def test_mnist_keeps_its_settings_whatever_the_small_data_rule():
    from mnist_exp.training.small_data import for_data

    settings = parse_settings(compose_config())
    assert for_data(settings, 300) == (settings, {})  # only folders adapt
    folder = parse_settings(compose_config("dataset=folder", "dataset.path=x"))
    assert for_data(folder, 5000) == (folder, {})
    chosen = parse_settings(
        compose_config("dataset=folder", "dataset.path=x", "trainer.batch_size=64")
    )
    adapted, changed = for_data(chosen, 300)
    assert adapted.trainer.batch_size == 64 and "trainer.batch_size" not in changed
    assert adapted.trainer.epochs == 30


def test_natural_augmentation_works_on_colour_and_is_refused_on_digits():
    import tensorflow as tf

    from mnist_exp.data.augmentation import make_augmenter

    natural = parse_settings(
        compose_config("dataset=folder", "dataset.path=x", "augment=natural")
    ).augment
    images = tf.random.stateless_uniform([6, 20, 30, 3], [0, 1], 0.0, 255.0)
    drawn_images = make_augmenter(natural)(images, tf.constant([0, 3], tf.int64))
    assert drawn_images.shape == (6, 20, 30, 3)
    assert 0.0 <= float(tf.reduce_min(drawn_images)) and float(tf.reduce_max(drawn_images)) <= 255
    only_flip = dataclasses.replace(
        natural, shift_fraction=0.0, zoom_fraction=0.0, brightness=0.0, contrast=0.0,
        saturation=0.0, horizontal_flip=1.0,
    )  # fmt: skip
    mirrored = make_augmenter(only_flip)(images, tf.constant([0, 3], tf.int64))
    assert np.array_equal(mirrored.numpy(), images.numpy()[:, :, ::-1])

    for digits in (
        ["dataset=mnist"],
        ["dataset=folder", "dataset.path=x", "dataset.recipe=digits"],
    ):
        with pytest.raises(ConfigError, match="a mirrored 2 is no 2"):
            parse_settings(compose_config(*digits, "augment=natural"))
    parse_settings(compose_config("dataset=fashion_mnist", "augment=natural"))  # clothes mirror


@pytest.mark.slow
def test_a_folder_over_the_memory_budget_trains_from_disk_as_it_would_in_memory(tmp_path):
    """120 RGB images at 64x64 are 1.4 MB converted: over a 1 MB budget they stay on disk,
    read a batch at a time; the run is the same, epoch for epoch, as the one in memory."""
    write_colour_folder(tmp_path / "pics")
    same = ("dataset.image_size=[64,64]", "model=cnn_small", "trainer.epochs=2",
            "trainer.deterministic=true", "augment=light")  # fmt: skip
    histories = {}
    for budget in (1, 2048):
        home = tmp_path / f"budget{budget}"
        home.mkdir()
        run_dir = home / "run"
        result = run_module(
            "mnist_exp", "dataset=folder", f"dataset.path={tmp_path / 'pics'}", *same,
            f"dataset.memory_budget_mb={budget}", f"hydra.run.dir={run_dir}", cwd=home,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        output = result.stdout + result.stderr
        assert ("kept on disk" in output) == (budget == 1), output[-2000:]
        histories[budget] = (run_dir / "history.csv").read_bytes()
        assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"
    assert histories[1] == histories[2048]
    (on_disk,) = (tmp_path / "budget1" / "cache" / "folders").glob("*-seed0")
    assert sorted(p.name for p in on_disk.iterdir()) == ["labels.npz", "x_test.npy", "x_train.npy"]


def test_a_split_kept_on_disk_is_predicted_a_chunk_at_a_time(tmp_path, monkeypatch):
    """Export measures every format on the run's whole test split: one kept on disk is read
    and converted to float32 a chunk at a time (it was read whole, then converted whole: four
    times the split's size in memory), with the same probabilities as the array gives."""
    from mnist_exp.data.disk_images import DiskImages, write_images
    from mnist_exp.input_spec import InputSpec
    from mnist_exp.serving.predictors import ModelFacts, Predictor

    class MeanColour(Predictor):
        chunk = 64

        def _predict_chunk(self, batch):
            means = batch.mean(axis=(1, 2))
            return means / means.sum(axis=1, keepdims=True)

    images = np.random.default_rng(0).integers(1, 256, (300, 8, 6, 3), dtype=np.uint8)
    on_disk = write_images(tmp_path / "x_test.npy", (8, 6, 3), 300, [images])
    reads = []
    read = DiskImages.read
    monkeypatch.setattr(
        DiskImages, "read", lambda self, at: reads.append(len(at)) or read(self, at)
    )
    facts = ModelFacts("m.keras", "keras", ("r", "g", "b"), InputSpec(8, 6, 3, recipe="as_is"))
    predictor = MeanColour(facts)
    assert np.array_equal(predictor.predict(on_disk), predictor.predict(images))
    assert reads == [64, 64, 64, 64, 44]
    with pytest.raises(
        ValueError, match=r"expected images of shape \[N, 8, 6, 3\], got \[300, 8, 6\]"
    ):
        predictor.predict(images[..., 0])


def test_images_on_disk_read_like_the_array_they_stand_for(tmp_path):
    from mnist_exp.data.disk_images import DiskImages, write_images

    images = np.random.default_rng(0).integers(0, 256, (10, 4, 5, 3), dtype=np.uint8)
    on_disk = write_images(tmp_path / "x.npy", (4, 5, 3), 10, [images[:4], images[4:]])
    assert np.array_equal(np.load(tmp_path / "x.npy"), images)  # a plain .npy file
    assert on_disk.shape == images.shape and on_disk.nbytes == images.nbytes
    assert np.array_equal(np.asarray(on_disk), images)
    view = on_disk.subset([7, 2, 5])
    assert isinstance(view, DiskImages) and view.shape == (3, 4, 5, 3)
    assert np.array_equal(view[1], images[2]) and np.array_equal(view[:2], images[[7, 2]])
    assert np.array_equal(view[[2, 0]], images[[5, 7]])
    cut = tmp_path / "cut.npy"
    cut.write_bytes((tmp_path / "x.npy").read_bytes()[:-1])
    with pytest.raises(ValueError, match="bytes, .* expected"):
        DiskImages(cut)  # a damaged cache is refused where it is opened, not mid-training
    with pytest.raises(ValueError, match="3 images written, 4 expected"):
        write_images(tmp_path / "short.npy", (4, 5, 3), 4, [images[:3]])
    assert not (tmp_path / "short.npy").exists()  # nothing half-written is left
