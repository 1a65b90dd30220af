"""The per-run report, HParams flattening and the run table's tolerance of odd runs."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import smoke_config
from omegaconf import OmegaConf
from PIL import Image

from mnist_exp.cli import compare
from mnist_exp.reporting.report import PER_CLASS_FILE, REPORT_FILES
from mnist_exp.reporting.scores import confusion_matrix, per_class_scores
from mnist_exp.runs.flatten import flatten_config, with_group_choices
from mnist_exp.runs.table import runs_table
from mnist_exp.training.runner import run_experiment


def test_scores_match_a_hand_count():
    matrix = confusion_matrix(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    scores = per_class_scores(matrix, ["a", "b", "c"])
    assert scores.loc["a", "precision"] == pytest.approx(0.5)
    assert scores.loc["b", "precision"] == pytest.approx(2 / 3)
    assert scores.loc["b", "recall"] == pytest.approx(1.0)
    assert scores.loc["b", "f1"] == pytest.approx(0.8)
    assert scores.loc["c", "f1"] == 0.0
    assert scores.loc["macro avg", "support"] == 5


def test_a_run_writes_a_readable_report(tmp_path):
    overrides = ("model=mlp", "trainer.epochs=2", "augment=light", "augment.plain_final_share=0.5")
    run_experiment(smoke_config(*overrides), tmp_path)
    for name in REPORT_FILES.values():
        with Image.open(tmp_path / name) as image:
            image.verify()
            assert image.format == "PNG" and min(image.size) > 200
    scores = (tmp_path / PER_CLASS_FILE).read_text().splitlines()
    assert scores[0] == "class,precision,recall,f1,support"
    assert len(scores) == 1 + 10 + 1


def test_the_augmented_picture_shows_the_samples_as_training_warps_them():
    from mnist_exp.data.augmentation import augmented_copies, make_augmenter
    from mnist_exp.reporting.report import build_report
    from mnist_exp.settings import parse_settings

    images = np.zeros((20, 28, 28), np.uint8)
    images[:, 6:22, 12:16] = 255
    splits = SimpleNamespace(
        class_names=("a", "b"), source="drawn", x_train=images, y_train=np.arange(20) % 2,
        y_val=np.zeros(2, int), x_test=images[:4], y_test=np.array([0, 1, 0, 1]),
    )  # fmt: skip
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    plain = build_report(splits=splits, test_probabilities=probabilities, history=None, title="t")
    assert "augmented" not in plain.images
    augmenter = make_augmenter(parse_settings(smoke_config("augment=light")).augment)
    shown = []

    def augment(batch):
        shown.append(augmented_copies(augmenter, batch, seed=3))
        return shown[-1]

    report = build_report(
        splits=splits, test_probabilities=probabilities, history=None, title="t", augment=augment
    )
    assert report.images["augmented"] != report.images["samples"]
    (drawn,) = shown
    assert drawn.dtype == np.uint8 and drawn.shape == (8, 28, 28)
    assert not np.array_equal(drawn, images[:8]) and drawn.max() > 128  # warped, ink kept


def test_secrets_from_the_environment_are_never_flattened(monkeypatch):
    monkeypatch.setenv("API_TOKEN", "s3cret")
    cfg = OmegaConf.create(
        {
            "logger": {"token": "${oc.env:API_TOKEN}", "project": "x"},
            "model": {"name": "mlp", "hidden_units": [128, 64]},
            "hydra": {"run": {"dir": "."}},
        }
    )
    flat = with_group_choices(flatten_config(cfg), {"model": "mlp", "hydra/launcher": "basic"})
    assert flat == {"logger.project": "x", "model.hidden_units": "[128, 64]", "model": "mlp"}
    assert "s3cret" not in json.dumps(flat)


def fake_run(root, name, config: dict, metrics: dict | None):
    run_dir = root / name
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(config)))
    if metrics is not None:
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir


def test_old_unfinished_and_broken_runs_still_load(tmp_path, capsys):
    fake_run(
        tmp_path,
        "new",
        {"model": {"name": "cnn", "width": 2}, "seed": 0},
        {"status": "completed", "test_accuracy": 0.99},
    )
    fake_run(
        tmp_path, "old", {"model": {"name": "cnn"}}, {"status": "completed", "test_accuracy": 0.98}
    )
    fake_run(tmp_path, "killed", {"model": {"name": "mlp"}, "seed": 0}, {"status": "running"})
    fake_run(tmp_path, "no_metrics", {"model": {"name": "mlp"}, "seed": 1}, None)
    broken = fake_run(tmp_path, "broken", {"model": {"name": "mlp"}}, None)
    (broken / "metrics.json").write_text("{truncated")
    table = runs_table([tmp_path])
    assert len(table) == 5
    statuses = dict(
        zip(table["run_dir"].map(lambda p: p.rsplit("/", 1)[1]), table["status"], strict=True)
    )
    assert statuses == {
        "new": "completed",
        "old": "completed",
        "killed": "running",
        "no_metrics": "no metrics",
        "broken": "unreadable",
    }
    assert compare.main([str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "model.width" in printed and "running" in printed
    assert compare.main([str(tmp_path), "--group-by", "model.name"]) == 0
    (tmp_path / "empty").mkdir()
    assert compare.main([str(tmp_path / "empty")]) == 1  # a folder without runs
    assert compare.main([str(tmp_path / "nothing_here")]) == 2  # a path that does not exist


def test_run_labels_tell_runs_apart_and_are_safe_directory_names():
    from mnist_exp.reporting.tensorboard_names import MAX_LABEL_LENGTH, run_label

    assert run_label("cnn_bn", 0, []) == "cnn_bn-seed0"
    assert (
        run_label("cnn", 1, ["model=cnn", "seed=1", "optimizer.learning_rate=0.01", "+x=2"])
        == "cnn-seed1,optimizer.learning_rate=0.01,x=2"
    )
    secret = run_label("mlp", 0, ["dataset.cache_dir=${oc.env:MY_CACHE}", "a.b=/tmp/x y"])
    assert secret == "mlp-seed0,dataset.cache_dir=_oc.env_MY_CACHE_,a.b=_tmp_x_y"
    assert len(run_label("mlp", 0, [f"key{n}=value" for n in range(40)])) == MAX_LABEL_LENGTH
    swept = ["model=cnn", "optimizer.learning_rate=0.01", "debug=smoke", "+x=1"]
    assert run_label("cnn", 0, swept, keys={"optimizer.learning_rate", "x"}) == (
        "cnn-seed0,optimizer.learning_rate=0.01,x=1"
    )


def test_a_run_keeps_its_tensorboard_name_when_it_continues(tmp_path):
    from mnist_exp.reporting.tensorboard_names import tensorboard_dir, write_swept_keys
    from mnist_exp.runs import record

    run_dir = tmp_path / "sweep" / "0"
    record.write_record(run_dir, OmegaConf.create({}), {}, ["model=mlp", "seed=1", "a.b=2"])
    assert tensorboard_dir(run_dir, "mlp", 1) == run_dir / "tensorboard" / "mlp-seed1,a.b=2"
    write_swept_keys(tmp_path / "sweep", ["model", "seed"])
    first = tensorboard_dir(run_dir, "mlp", 1)
    assert first.name == "mlp-seed1"
    first.mkdir(parents=True)
    write_swept_keys(tmp_path / "sweep", ["a.b"])  # e.g. resumed from another sweep
    assert tensorboard_dir(run_dir, "mlp", 1) == first


def test_the_board_lists_a_sweeps_job_by_its_number_and_swept_overrides(tmp_path):
    from mnist_exp.reporting.tensorboard_names import shown_name, write_swept_keys
    from mnist_exp.runs import record

    sweep = tmp_path / "outputs" / "sweep"
    job = sweep / "3"
    record.write_record(job, OmegaConf.create({}), {}, ["debug=smoke", "model=cnn", "seed=1"])
    write_swept_keys(sweep, ["model", "seed"])
    events = job / "tensorboard" / "cnn-seed1"
    assert shown_name(sweep, events / "train") == Path("3-model=cnn,seed=1/train")
    assert shown_name(sweep, events) == Path("3-model=cnn,seed=1")  # its HParams session
    assert shown_name(tmp_path, events / "validation") == Path(
        "outputs/sweep/3-model=cnn,seed=1/validation"
    )
    assert shown_name(job, events / "train") == Path("cnn-seed1/train")  # the job alone
    single = tmp_path / "outputs" / "2026-12-07" / "10-00-00"
    events = single / "tensorboard" / "cnn_bn-seed0" / "test"
    assert shown_name(tmp_path, events) == Path("outputs/2026-12-07/10-00-00/cnn_bn-seed0/test")
    assert shown_name(sweep, sweep / "sweep-hparams") == Path("sweep-hparams")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_redraws_in_place_on_a_terminal_and_prints_plain_lines_elsewhere(monkeypatch):
    from mnist_exp import progress

    monkeypatch.setattr(progress, "EVERY_SECONDS", 0.0)
    terminal = _Terminal()
    line = progress.Progress("compare", 4, "runs", stream=terminal, keep=False)
    for done in range(1, 5):
        line(done)
    drawn = terminal.getvalue()
    assert drawn.startswith("\rcompare: 1/4 runs · ") and "ETA" in drawn
    assert "\rcompare: 4/4 runs · " in drawn and drawn.endswith("\r") and "\n" not in drawn

    log_file = io.StringIO()
    line = progress.Progress("predict", 40, "images", stream=log_file)
    for done in range(1, 41):
        line(done)
    lines = log_file.getvalue().splitlines()
    assert len(lines) == 11 and "\r" not in log_file.getvalue()  # first, then every 10%
    assert lines[-1].startswith("predict: 40/40 images · ")

    quiet = io.StringIO()
    line = progress.Progress("compare", 3, "runs", stream=quiet, plain_lines=False)
    for done in range(1, 4):
        line(done)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("epochs", [1, 2, 30])
def test_training_curves_tick_whole_epochs_from_one(epochs):
    import pandas as pd

    from mnist_exp.reporting.plots import training_curves_figure

    numbers = np.arange(1, epochs + 1)
    history = pd.DataFrame(
        {"epoch": numbers, "loss": 1 / numbers, "accuracy": 1 - 0.5 / numbers,
         "val_loss": 1 / numbers, "val_accuracy": 1 - 0.5 / numbers,
         "learning_rate": np.full(epochs, 1e-3)}
    )  # fmt: skip
    figure = training_curves_figure(history, "t")
    figure.canvas.draw()
    for axes in figure.axes:
        low, high = axes.get_xlim()
        ticks = [tick for tick in axes.get_xticks() if low <= tick <= high]
        assert ticks and all(float(tick).is_integer() for tick in ticks), ticks
        assert low < 1 <= min(ticks) + 1 and max(ticks) <= epochs


@pytest.mark.parametrize(
    ("shown", "total", "title"),
    [(0, 0, "no test errors"), (1, 1, "the only test error"),
     (10, 10, "all 10 test errors, most confident first"),
     (32, 57, "the 32 most confident of 57 test errors")],
)  # fmt: skip
def test_the_misclassified_title_reads_well_for_any_count(shown, total, title):
    from mnist_exp.reporting.report import _errors_shown

    assert _errors_shown(shown, total) == title


def test_image_grid_draws_each_image_in_its_cell_with_its_caption():
    from mnist_exp.reporting.plots import image_grid_figure

    images = np.stack([np.full((28, 28), 20 * (index + 1), np.uint8) for index in range(10)])
    captions = [f"digit {index}" for index in range(10)]
    figure = image_grid_figure(images, captions, "ten", columns=4)
    (axes,) = figure.axes  # one picture of all the images, not an Axes each
    mosaic = axes.images[0].get_array()
    assert [text.get_text() for text in axes.texts] == captions
    cell_height, cell_width = mosaic.shape[0] / 3, mosaic.shape[1] / 4
    for index in range(12):
        row, column = divmod(index, 4)
        centre = mosaic[int(row * cell_height + 14), int((column + 0.5) * cell_width)]
        assert centre == (20 * (index + 1) if index < 10 else 0)  # the last two cells empty
