"""Using a trained model: export to every format with measured parity, and prediction on
images the test draws itself, as a user would make them (either polarity, off-centre, RGBA,
JPEG, 16-bit, a huge canvas with a small digit), plus bad files and bad models.

The model is trained by the real runner on ten shapes drawn with PIL (a ring, a bar, a
cross, ...), so that the labels of drawn images are known and the preprocessing is what
makes them right."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import catches_sigterm, read_json
from drawn_shapes import draw_shape, drawn
from PIL import Image, ImageDraw

from mnist_exp.cli.predict import main as predict_main
from mnist_exp.serving.predict import find_images
from mnist_exp.serving.predictors import load_predictor


def predict_json(capsys, *arguments) -> tuple[int, list[dict], str]:
    code = predict_main([*map(str, arguments), "--format", "json"])
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, rows, captured.err


def test_users_drawings_are_predicted_right_in_every_form(shapes_run, tmp_path, capsys):
    run_dir, _ = shapes_run
    rng = np.random.default_rng(7)
    expected = {}
    for label in range(10):
        forms = {
            "dark_on_light.png": drawn(label, rng),
            "light_on_dark.png": drawn(label, rng, light_background=False),
            "photo.jpg": drawn(label, rng, canvas=(640, 480), mode="RGB"),
            "huge_canvas.png": drawn(label, rng, canvas=(3000, 2000)),
            "palette.gif": drawn(label, rng).convert("P"),
            "scan.bmp": drawn(label, rng, mode="RGB"),
            "image.webp": drawn(label, rng, mode="RGB"),
        }
        for name, image in forms.items():
            path = tmp_path / f"{label}_{name}"
            image.save(path, quality=90) if name.endswith(".jpg") else image.save(path)
            expected[str(path)] = label
        transparent = Image.new("RGBA", (300, 300), (0, 0, 0, 0))  # ink on nothing at all
        draw_shape(label, ImageDraw.Draw(transparent), (40, 60, 200, 220), 14, (20, 20, 20, 255))
        transparent.save(tmp_path / f"{label}_transparent.png")
        expected[str(tmp_path / f"{label}_transparent.png")] = label
        sixteen = (np.asarray(drawn(label, rng), dtype=np.uint16) * 257).astype(np.uint16)
        Image.fromarray(sixteen).save(tmp_path / f"{label}_16bit.tif")
        expected[str(tmp_path / f"{label}_16bit.tif")] = label
    code, rows, errors = predict_json(capsys, run_dir, tmp_path)
    assert code == 0, errors
    assert {row["path"]: row["label"] for row in rows} == expected
    assert all(row["class_name"] == str(row["label"]) for row in rows)
    assert all(abs(sum(row["probabilities"]) - 1) < 1e-4 for row in rows)


def test_without_preprocessing_the_test_set_pngs_give_the_runs_test_accuracy(
    shapes_run, tmp_path, capsys
):
    run_dir, (x_test, y_test) = shapes_run
    for index, (image, label) in enumerate(zip(x_test, y_test, strict=True)):
        Image.fromarray(image).save(tmp_path / f"{index:04d}_label{label}.png")
    code, rows, errors = predict_json(capsys, run_dir, tmp_path, "--no-preprocess")
    assert code == 0, errors
    labels = [int(row["path"].rsplit("label", 1)[1].split(".")[0]) for row in rows]
    accuracy = np.mean([row["label"] == label for row, label in zip(rows, labels, strict=True)])
    assert accuracy == read_json(run_dir / "metrics.json")["test_accuracy"]


def test_bad_files_are_named_and_skipped_and_the_rest_predicted(shapes_run, tmp_path, capsys):
    run_dir, _ = shapes_run
    good = tmp_path / "good.png"
    drawn(1, np.random.default_rng(0)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    (tmp_path / "notes.png").write_text("not an image")
    drawn(1, np.random.default_rng(0), canvas=(200, 200)).save(tmp_path / "big.png")
    code, rows, errors = predict_json(
        capsys, run_dir, good, truncated, tmp_path / "notes.png", tmp_path / "missing.png"
    )
    assert code == 1
    assert [row["path"] for row in rows] == [str(good)]
    assert "truncated.png: cannot be decoded (truncated)" in errors
    assert "notes.png: not an image file" in errors
    assert "missing.png: no such file" in errors
    code, rows, errors = predict_json(capsys, run_dir, tmp_path / "big.png", "--max-pixels", "1000")
    assert code == 1 and rows == []
    assert "200x200 pixels is over the limit of 1,000" in errors


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels and holds none: a decompression bomb's
    header, as PIL reads it at open."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_decompression_bomb_beyond_pils_own_limit_is_named_not_raised(
    shapes_run, tmp_path, capsys
):
    run_dir, _ = shapes_run
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(20_000, 20_000))  # 400 MP: PIL refuses it at open
    code, rows, errors = predict_json(capsys, run_dir, bomb, "--max-pixels", str(10**9))
    assert code == 1 and rows == []
    assert "bomb.png: refused as a decompression bomb" in errors


def test_table_and_csv_outputs_and_the_preprocessed_images(shapes_run, tmp_path, capsys):
    run_dir, _ = shapes_run
    drawn(0, np.random.default_rng(3)).save(tmp_path / "ring.png")
    seen = tmp_path / "seen"
    assert (
        predict_main([str(run_dir), str(tmp_path / "ring.png"), "--save-preprocessed", str(seen)])
        == 0
    )
    table = capsys.readouterr().out
    assert "ring.png" in table and "top 3" in table
    [saved] = seen.iterdir()
    assert Image.open(saved).size == (28, 28)
    csv = ["--format", "csv", "--threads", "1", "--model-threads", "1"]
    assert predict_main([str(run_dir), str(tmp_path / "ring.png"), *csv]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    assert header.startswith("path,label,class_name,confidence,p_0") and row.count(",") == 13


def test_counts_below_one_are_refused_by_name(capsys):
    for option in ("--threads", "--model-threads", "--batch-size", "--top-k"):
        for value in ("0", "two"):
            with pytest.raises(SystemExit) as refused:
                predict_main(["run", "digit.png", option, value])
            assert refused.value.code == 2
            message = f"{option}: must be a whole number >= 1, not '{value}'"
            assert message in capsys.readouterr().err


def test_tampered_unsafe_and_foreign_models_get_one_message(tmp_path, capsys):
    import keras

    image = tmp_path / "digit.png"
    drawn(1, np.random.default_rng(0)).save(image)
    tampered = tmp_path / "tampered.keras"
    tampered.write_bytes(b"PK\x03\x04" + bytes(500))
    payload = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Lambda(lambda x: x * 2)])
    payload.save(tmp_path / "payload.keras")
    foreign = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)])  # not images
    foreign.save(tmp_path / "flat.keras")
    for model, message in [
        (tampered, "tampered.keras is damaged"),
        (tmp_path / "payload.keras", "safe mode refuses"),
        (tmp_path / "flat.keras", "takes inputs of shape (784,)"),
        (image, "is not a model mnist_exp can run"),
    ]:
        assert predict_main([str(model), str(image)]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_export_writes_every_format_each_measured_against_keras(shapes_run, tmp_path):
    run_dir = Path(shutil.copytree(shapes_run[0], tmp_path / "run"))  # the shared run stays as is
    x_test, y_test = shapes_run[1]
    killed = run_dir / ".export-incomplete-999999999"  # left by an export killed with -9
    (killed / "saved_model").mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "mnist_exp.cli.export", str(run_dir)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    record = read_json(run_dir / "export" / "export.json")
    formats = record["formats"]
    assert set(formats) == {
        "saved_model",
        "tflite_float32",
        "tflite_dynamic_range",
        "tflite_int8",
        "onnx",
    }
    rejected = [name for name, entry in formats.items() if not entry["accepted"]]
    assert result.returncode == (1 if rejected else 0), result.stderr[-3000:]
    for entry in formats.values():  # each file it wrote, named with its size and agreement
        assert re.search(rf"export/{re.escape(entry['path'])}: [\d.,]+ KiB, agrees", result.stdout)
    for name in ("saved_model", "tflite_float32", "onnx"):
        assert formats[name]["agreement"] == 1.0 and formats[name]["accepted"]
    keras_accuracy = read_json(run_dir / "metrics.json")["test_accuracy"]
    assert record["keras"]["accuracy"] == keras_accuracy
    reference = load_predictor(run_dir).predict(x_test).argmax(axis=1)
    for name, entry in formats.items():
        path = run_dir / "export" / entry["path"]
        assert path.exists() and (
            entry["accepted"] == (entry["agreement"] >= entry["min_agreement"])
        )
        predicted = load_predictor(path).predict(x_test).argmax(axis=1)
        assert np.mean(predicted == reference) == entry["agreement"], name
        assert np.mean(predicted == y_test) == entry["accuracy"], name
        assert load_predictor(path).facts.class_names == tuple(str(d) for d in range(10))
    assert not killed.exists()
    report = (run_dir / "export" / "report.md").read_text()
    assert all(f"| {name}" in report for name in formats)
    assert "tflite_int8" in result.stdout and "agreement" in result.stdout

    again = subprocess.run(
        [sys.executable, "-m", "mnist_exp.cli.export", str(run_dir), "--formats", "tflite_float32"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 2 and "already holds a finished export" in again.stderr
    assert read_json(run_dir / "export" / "export.json") == record


def test_a_phone_photo_is_read_upright_by_its_exif_orientation():
    from mnist_exp.imaging.decode import read_gray

    upright = drawn(1, np.random.default_rng(0), canvas=(90, 140))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # how a sideways-held phone saves it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to show
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    turned = read_gray(buffer.getvalue(), name="photo.jpg")
    assert turned.shape == (140, 90)
    assert np.abs(turned - np.asarray(upright) / 255.0).mean() < 0.02


def test_blank_images_odd_names_and_odd_files_are_named_not_guessed(shapes_run, tmp_path, capsys):
    run_dir, _ = shapes_run
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("L", (50, 50), 255).save(folder / "blank.png")
    Image.new("RGBA", (1, 1), (0, 0, 0, 0)).save(folder / "clear.png")
    drawn(1, np.random.default_rng(2)).save(folder / "forged\nline\x1b[2J.png")
    os.mkfifo(folder / "pipe.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    code, rows, errors = predict_json(capsys, run_dir, folder)
    assert code == 1, errors  # the FIFO and the loop could not be used
    by_name = {Path(row["path"]).name: row for row in rows}
    assert by_name["blank.png"]["blank"] and by_name["blank.png"]["label"] is None
    assert by_name["clear.png"]["blank"] and by_name["clear.png"]["probabilities"] is None
    assert by_name["forged\nline\x1b[2J.png"]["label"] == 1
    assert "pipe.png: a FIFO; skipped" in errors
    assert "loop.png: cannot be read" in errors and "skipped" in errors
    assert "2 blank image(s): no digit found" in errors
    assert predict_main([str(run_dir), str(folder)]) == 1
    table = capsys.readouterr().out
    assert "forged\\nline\\x1b[2J.png" in table and "\x1b" not in table
    assert "(blank)" in table


def test_folders_are_searched_in_path_order_without_following_links_to_folders(tmp_path):
    root = tmp_path / "images"
    for name in ["b/2.png", "a/z/1.PNG", "a/3.jpg", "c.png", "notes.txt", "a/4.png"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"not decoded here")
    (root / "linked").symlink_to(root / "a")
    found, problems = find_images([str(root), str(root / "c.png")])
    expected = ["a/3.jpg", "a/4.png", "a/z/1.PNG", "b/2.png", "c.png"]
    assert found == [root / name for name in expected] and not problems


@pytest.mark.slow
def test_a_closed_pipe_ends_predict_quietly(shapes_run, tmp_path):
    run_dir, _ = shapes_run
    for index in range(40):
        drawn(index % 10, np.random.default_rng(index)).save(tmp_path / f"{index:02d}.png")
    result = subprocess.run(
        f"{sys.executable} -m mnist_exp.cli.predict {run_dir} {tmp_path} --format json"
        " --batch-size 1 | head -1",
        shell=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert len(result.stdout.splitlines()) == 1
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_stopped_export_or_predict_ends_with_one_line_and_leaves_nothing_half_done(
    shapes_run, tmp_path, stop
):
    """Stopped while it writes the formats (its unfinished folder there), export exits 130
    with one line and removes that folder; predict too, stopped as it starts on a folder of
    images. They ended with a Python traceback (Ctrl-C) or killed by the signal (SIGTERM)."""
    run_dir = Path(shutil.copytree(shapes_run[0], tmp_path / "run"))
    for index in range(40):
        drawn(index % 10, np.random.default_rng(index)).save(tmp_path / f"{index:02d}.png")
    commands = {
        "mnist-exp-export": ([sys.executable, "-m", "mnist_exp.cli.export", str(run_dir)],
                             lambda: any(run_dir.glob(".export-incomplete-*"))),
        "mnist-exp-predict": ([sys.executable, "-m", "mnist_exp.cli.predict", str(run_dir),
                               str(tmp_path), "--batch-size", "1"],
                              lambda: catches_sigterm(process.pid)),
    }  # fmt: skip
    for name, (command, reached) in commands.items():
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while not reached():
            assert process.poll() is None and time.monotonic() < deadline, name
            time.sleep(0.02)
        process.send_signal(stop)
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 130, (name, errors[-2000:])
        assert errors.strip().splitlines()[-1] == (
            f"{name}: stopped (signal {stop.name}); run it again to finish."
        ), errors[-2000:]
        assert "Traceback" not in errors, errors[-2000:]
    assert sorted(path.name for path in run_dir.iterdir() if "export" in path.name) == []
