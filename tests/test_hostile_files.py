"""Hostile files where they enter, without a server: images whose headers lie (icon and GIF
bombs), decoders that fail in unusual ways, a sparse file of gigabytes in a data folder, a
SavedModel that writes a file, a TFLite model with TensorFlow ops, links planted in a run
folder, class names that hold terminal escapes, and CSV cells that spreadsheets would run."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import run_module
from drawn_shapes import drawn

from benchmarks.hostile_files import HOSTILE, ico_bomb
from mnist_exp.data.folder import read_folder
from mnist_exp.errors import DataError
from mnist_exp.imaging.decode import MAX_FILE_BYTES, ImageError, ImageTooLarge, read_gray
from mnist_exp.serving.prediction_output import Output
from mnist_exp.text import spreadsheet_safe

MiB = 2**20


def peak_rss_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


@pytest.mark.parametrize("name", HOSTILE)
def test_each_hostile_image_is_one_image_error_at_once_and_decodes_nothing(name):
    data = HOSTILE[name]()
    before = peak_rss_mib()
    started = time.monotonic()
    with pytest.raises(ImageError, match=name.replace(".", r"\.")) as refused:
        read_gray(data, name=name, max_pixels=25_000_000)
    # Before: the ICO and ICNS were decoded inside Image.open (+550 MiB, 1.7 s), the zTXt
    # PNG raised a bare ValueError, the GIF's frame was allocated past the pixel limit.
    assert time.monotonic() - started < 0.5
    assert peak_rss_mib() - before < 100
    if name.startswith("gif"):
        assert isinstance(refused.value, ImageTooLarge)


def test_an_icon_is_refused_as_a_format_from_a_file_too(tmp_path):
    icon = tmp_path / "digit.ico"
    icon.write_bytes(ico_bomb(2_000))
    with pytest.raises(ImageError, match="not an image file in a format read here"):
        read_gray(icon)


def class_folders(root, count: int = 6) -> None:
    for label, name in ((1, "one"), (3, "three")):
        (root / name).mkdir(parents=True)
        for index in range(count):
            drawn(label, np.random.default_rng(index)).save(root / name / f"{index}.png")


def test_an_undecodable_image_in_a_data_folder_is_named_in_one_message(tmp_path):
    class_folders(tmp_path / "data")
    (tmp_path / "data" / "one" / "text.png").write_bytes(HOSTILE["ztxt.png"]())
    with pytest.raises(DataError, match=r"1 image\(s\) cannot be read: .*text\.png: cannot be"):
        read_folder(tmp_path / "data", tmp_path / "cache", 0.2, seed=0)


def test_a_sparse_file_of_gigabytes_is_refused_from_its_size_before_it_is_read(tmp_path):
    class_folders(tmp_path / "data")
    sparse = tmp_path / "data" / "three" / "huge.png"
    with open(sparse, "wb") as stream:
        stream.truncate(3 * 2**30)  # 3 GB that cost nothing on disk: hashing it took minutes
    started = time.monotonic()
    with pytest.raises(DataError, match=rf"over the limit of {MAX_FILE_BYTES:,} bytes.*huge\.png"):
        read_folder(tmp_path / "data", tmp_path / "cache", 0.2, seed=0)
    assert time.monotonic() - started < 5


def test_class_names_are_printed_escaped_and_csv_cells_are_never_formulas(capsys):
    names = ["\x1b[2Jcleared", "=HYPERLINK(1)"]
    row = {"path": "-1+2.png", "blank": False, "label": 1, "class_name": names[1],
           "confidence": 0.9, "probabilities": [0.1, 0.9],
           "top_k": [{"class_name": names[1], "probability": 0.9},
                     {"class_name": names[0], "probability": 0.1}]}  # fmt: skip
    table = Output("table", names, top_k=2)
    table.add(row)
    table.finish()
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\\x1b[2Jcleared" in shown
    spreadsheet = Output("csv", names, top_k=2)
    spreadsheet.add(row)
    cells = capsys.readouterr().out.splitlines()
    assert cells[0].split(",")[-2:] == ["p_\x1b[2Jcleared", "p_=HYPERLINK(1)"]
    assert cells[1].startswith("'-1+2.png,1,'=HYPERLINK(1),0.9,")
    assert spreadsheet_safe(-1.5) == -1.5 and spreadsheet_safe("@x") == "'@x"


def predict_with_a_model_made_by(script: str, victim, model, folder):
    """`mnist-exp-predict MODEL one.png` for the model `script` writes (its argv: the file its
    graph writes, where to save the model)."""
    made = subprocess.run([sys.executable, "-c", script, str(victim), str(model)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert made.returncode == 0, made.stderr[-2000:]
    image = folder / "one.png"
    drawn(1, np.random.default_rng(0)).save(image)
    return run_module("mnist_exp.cli.predict", str(model), str(image), cwd=folder)


WRITES_A_FILE = """
import sys
import tensorflow as tf

class Model(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name="images")])
    def serve(self, images):
        tf.io.write_file(sys.argv[1], "written by a SavedModel")
        return {"probabilities": tf.nn.softmax(tf.reshape(images, [-1, 784])[:, :10])}

model = Model()
tf.saved_model.save(model, sys.argv[2], signatures={"serving_default": model.serve})
"""


@pytest.mark.slow
def test_a_savedmodel_that_writes_a_file_is_refused_before_it_runs(tmp_path):
    victim, saved = tmp_path / "written.txt", tmp_path / "saved_model"
    result = predict_with_a_model_made_by(WRITES_A_FILE, victim, saved, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "runs the op 'WriteFile'" in result.stderr and "model.keras" in result.stderr
    assert "Traceback" not in result.stderr
    assert not victim.exists(), "the SavedModel's graph ran"


WITH_TF_OPS = """
import sys
import tensorflow as tf

class Model(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([1, 28, 28, 1], tf.float32)])
    def serve(self, images):
        tf.io.write_file(sys.argv[1], "written by a TFLite model")
        return tf.nn.softmax(tf.reshape(images, [1, -1])[:, :10])

model = Model()
converter = tf.lite.TFLiteConverter.from_concrete_functions(
    [model.serve.get_concrete_function()], model)
converter.target_spec.supported_ops = [
    tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
open(sys.argv[2], "wb").write(converter.convert())
"""


@pytest.mark.slow
def test_a_tflite_model_with_tensorflow_ops_is_refused_when_loaded(tmp_path):
    victim, model = tmp_path / "written.txt", tmp_path / "flex.tflite"
    result = predict_with_a_model_made_by(WITH_TF_OPS, victim, model, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "is not a usable TFLite model (Select TensorFlow op(s)" in result.stderr
    assert "Traceback" not in result.stderr and not victim.exists()


LINKED = ("history.csv", "model.keras", "tensorboard", ".hydra")


@pytest.mark.slow
@pytest.mark.parametrize("name", LINKED)
def test_a_link_where_a_run_writes_is_refused_before_training(tmp_path, name):
    victim_file, victim_folder = tmp_path / "victim.txt", tmp_path / "victim"
    victim_file.write_text("precious\n")
    victim_folder.mkdir()
    run_dir = tmp_path / "unpacked"
    run_dir.mkdir()
    target = victim_folder if name in ("tensorboard", ".hydra") else victim_file
    (run_dir / name).symlink_to(target)
    result = run_module("mnist_exp", "debug=smoke", "model=mlp", f"hydra.run.dir={run_dir}",
                        cwd=tmp_path)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert f"{run_dir / name} is a symbolic link" in output and "nothing was changed" in output
    assert "Traceback" not in output
    assert victim_file.read_text() == "precious\n"
    assert list(victim_folder.iterdir()) == []
    assert sorted(p.name for p in run_dir.iterdir()) == [name]  # not even a lock file


@pytest.mark.slow
def test_an_undecodable_image_costs_predict_one_line_not_the_other_rows(shapes_run, tmp_path):
    run_dir, _ = shapes_run
    for index in range(3):
        drawn(1, np.random.default_rng(index)).save(tmp_path / f"good{index}.png")
    for name, make in HOSTILE.items():  # named .png: the decoder is chosen by content
        (tmp_path / f"{name.replace('.', '_')}.png").write_bytes(make())
    result = run_module("mnist_exp.cli.predict", str(run_dir), str(tmp_path), "--format", "csv",
                        cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    rows = [line for line in result.stdout.splitlines()[1:] if line]
    assert len(rows) == 3 and all(",1," in row for row in rows)
    for name in HOSTILE:
        assert f"{name.replace('.', '_')}.png: " in result.stderr


def test_a_hard_link_or_a_fifo_in_a_run_folder_is_refused_like_a_link(tmp_path):
    from mnist_exp.runs.lock import RunLock
    from mnist_exp.safe_files import LinkRefused

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    hard, fifo = tmp_path / "hard", tmp_path / "fifo"
    hard.mkdir()
    os.link(victim, hard / "history.csv")  # appends in place would reach the victim
    fifo.mkdir()
    os.mkfifo(fifo / "train.log")  # a log opened here would wait for a reader for ever
    with pytest.raises(LinkRefused, match=r"history\.csv is a hard link"):
        RunLock(hard)
    with pytest.raises(LinkRefused, match=r"train\.log is a FIFO, socket or device"):
        RunLock(fifo)
    assert sorted(p.name for p in hard.iterdir()) == ["history.csv"]  # no lock file made
    assert victim.read_text() == "precious\n"


def test_whatever_a_decoder_raises_is_the_images_error(monkeypatch):
    from PIL import PngImagePlugin

    def broken(self):
        raise ZeroDivisionError("a decoder's own bug")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "_open", broken)
    with pytest.raises(ImageError, match=r"odd\.png: cannot be read \(a decoder's own bug\)"):
        read_gray(HOSTILE["ztxt.png"](), name="odd.png")
