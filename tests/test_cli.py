"""`python -m mnist_exp` and `python -m mnist_exp.cli.compare` in subprocesses, as users run them:
bad input, a real multirun with failing jobs, the run table and the TensorBoard records."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from conftest import run_module

from mnist_exp.cli import compare, config_mistakes

pytestmark = pytest.mark.slow


def run_cli(*arguments: str, cwd) -> subprocess.CompletedProcess:
    return run_module("mnist_exp", *arguments, cwd=cwd)


def run_module_with_env(module: str, *arguments: str, cwd, **variables):
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=cwd, env={**os.environ, **variables}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A real multirun: two models x seeds 0, 1 and -1; the two seed=-1 jobs fail."""
    workdir = tmp_path_factory.mktemp("sweep")
    result = run_cli(
        "-m",
        "debug=smoke",
        "model=mlp,cnn_small",
        "seed=0,1,-1",
        f"hydra.sweep.dir={workdir}/sweep",
        cwd=workdir,
    )
    return workdir / "sweep", result


def test_bad_value_exits_with_one_clear_message(tmp_path):
    result = run_cli(
        "debug=smoke", "trainer.batch_size=0", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path
    )
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "trainer.batch_size=0 must be >= 1" in output
    assert "Traceback" not in output
    assert "tensorflow" not in output.lower(), "config errors must come before TensorFlow starts"


def test_unknown_option_lists_available_options(tmp_path):
    result = run_cli("model=cnnbn", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mnist-exp: model=cnnbn: there is no such model; did you mean model=cnn_bn or model=cnn? "
        "The options: cnn, cnn_bn, cnn_small, fast_cnn, mlp, resnet, strided_cnn. "
        "`mnist-exp --help` lists every group's options."
    ]
    full = run_module_with_env("mnist_exp", "model=cnnbn", cwd=tmp_path, HYDRA_FULL_ERROR="1")
    assert "Could not find 'model/cnnbn'" in full.stderr  # Hydra's own report, for debugging


@pytest.mark.parametrize(
    ("overrides", "config_name", "answer"),
    [
        (["trainer.epoch=3"], "config", "trainer.epoch: the config has no such key; did you "
         "mean trainer.epochs? (+trainer.epoch=VALUE adds a key of your own)"),
        (["seeed=1"], "config", "seeed: the config has no such key; did you mean seed?"),
        (["metric.top3.k=3"], "config", "did you mean metrics.top3.k?"),
        (["callbacks.early_stoping.patience=1"], "config",
         "did you mean callbacks.early_stopping.patience? (+"),
        (["trainer.early_stopping.enabled=false"], "config",
         "trainer.early_stopping.enabled: ~callbacks.early_stopping turns early stopping off"),
        (["trainer.early_stopping.patience=5"], "config",
         "trainer.early_stopping.patience: early stopping is the callbacks preset"),
        (["schedule=reduce_on_plateau"], "config",
         "schedule=reduce_on_plateau: it is a callbacks preset now: schedule=constant +callbacks="),
        (["+model=cnn"], "config", "+model=...: model is already chosen; drop the +"),
        (["+trainer.epochs=3"], "config", "+trainer.epochs=...: trainer.epochs is already set; "
         "drop the + to change it (trainer.epochs=VALUE)"),
        (["search=smoke"], "config", "search is a choice of the tuner (mnist-exp-tune)"),
        (["model=mlp,cnnx"], "config", "model=cnnx: there is no such model; did you mean"),
        (["model=["], "config", "cannot read an override: no viable alternative at input '['"),
        (["search=smokey"], "tune", "search=smokey: there is no such search; did you mean "
         "search=smoke?"),
        (["experiment=fast_9"], "config", "did you mean experiment=fast_99 or "
         "experiment=fast_995?"),
        (["+experiment=fast_99", "model=mlp", "seed=range(0,3)"], "config", None),
    ],
)  # fmt: skip
def test_hydra_level_mistakes_are_named_with_the_closest_names(overrides, config_name, answer):
    problem = config_mistakes.config_problem(
        config_name, config_mistakes.with_added_groups(overrides), None
    )
    assert (problem is None) if answer is None else (answer in problem), problem


def test_experiment_needs_no_plus(tmp_path):
    assert config_mistakes.with_added_groups(["experiment=fast_99", "+experiment=x", "seed=1"]) == [
        "+experiment=fast_99", "+experiment=x", "seed=1"
    ]  # fmt: skip
    result = run_cli("experiment=fast_99", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fast_cnn" in result.stdout  # the preset's model


def test_multirun_survives_failing_jobs(sweep):
    sweep_dir, result = sweep
    assert result.returncode != 0, "the exit code must say a job failed"
    statuses = []
    for job in range(6):
        metrics = json.loads((sweep_dir / str(job) / "metrics.json").read_text())
        statuses.append(metrics["status"])
        if metrics["status"] == "failed":
            assert "seed=-1" in metrics["error"]
            assert "seed=-1" in (sweep_dir / str(job) / "train.log").read_text()
    assert statuses == ["completed", "completed", "failed"] * 2


def test_compare_groups_runs_over_seeds(sweep, tmp_path):
    sweep_dir, _ = sweep
    output = tmp_path / "grouped.csv"
    assert (
        compare.main(
            [str(sweep_dir), "--group-by", "model", "--format", "csv", "--output", str(output)]
        )
        == 0
    )
    grouped = pd.read_csv(output)
    assert list(grouped["model"]) == ["cnn_small", "mlp"]
    assert list(grouped["runs"]) == [3, 3] and list(grouped["completed"]) == [2, 2]
    assert all("±" in value for value in grouped["test_accuracy"])


def test_compare_shows_only_varying_keys_and_every_status(sweep, tmp_path):
    sweep_dir, _ = sweep
    output = tmp_path / "runs.csv"
    compare.main([str(sweep_dir), "--format", "csv", "--output", str(output)])
    runs = pd.read_csv(output)
    assert len(runs) == 6
    assert {"model", "seed", "test_accuracy", "status", "run_dir"} <= set(runs.columns)
    assert "trainer.epochs" not in runs.columns and "optimizer" not in runs.columns
    assert sorted(runs["status"]) == ["completed"] * 4 + ["failed"] * 2
    compare.main(
        [str(sweep_dir), "--where", "model=mlp", "--format", "csv", "--output", str(output)]
    )
    assert len(pd.read_csv(output)) == 3


def test_compare_says_what_did_not_match_and_keeps_integers_integer(sweep, tmp_path, capsys):
    sweep_dir, _ = sweep
    with pytest.raises(
        SystemExit, match=r"no run has model=resnet; the runs have model in \['cnn_small', 'mlp'\]"
    ):
        compare.main([str(sweep_dir), "--where", "model=resnet"])
    assert compare.main([str(sweep_dir), str(tmp_path / "typo")]) == 2
    assert f"no such path: {tmp_path / 'typo'}" in capsys.readouterr().err
    output = tmp_path / "runs.csv"
    compare.main([str(sweep_dir), "--format", "csv", "--output", str(output)])
    as_written = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert set(as_written["epochs_run"]) == {"1", ""}  # failed runs have none; never "1.0"


def read_events(directory):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    events = []
    for path in sorted(directory.glob("events.out.tfevents.*")):
        events.extend(EventFileLoader(str(path)).Load())
    return events


def scalar_points(directory):
    """{tag: [(step, value), ...]} of the scalars in `directory`'s event files."""
    from tensorboard.util import tensor_util

    points = {}
    for event in read_events(directory):
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == "scalars":
                number = float(tensor_util.make_ndarray(value.tensor))
                points.setdefault(value.tag, []).append((event.step, number))
    return points


def test_tensorboard_has_hparams_metrics_and_images_for_each_run(sweep):
    from tensorboard.plugins.hparams import plugin_data_pb2

    sweep_dir, _ = sweep
    names = {}
    for job in ("0", "1", "3", "4"):  # the completed jobs
        (run_events,) = (sweep_dir / job / "tensorboard").iterdir()  # one, named for the run
        names[job] = run_events.name
        assert sorted(path.name for path in run_events.iterdir() if path.is_dir()) == [
            "test",
            "train",
            "validation",
            "validation_best",
        ]
        events = read_events(run_events)
        values = {value.tag: value for event in events for value in event.summary.value}
        start = plugin_data_pb2.HParamsPluginData.FromString(
            values["_hparams_/session_start_info"].metadata.plugin_data.content
        ).session_start_info
        assert start.hparams["model"].string_value in ("mlp", "cnn_small")
        assert start.hparams["seed"].string_value in ("0", "1")  # integers shown as integers
        assert start.hparams["trainer.epochs"].string_value == "1"
        assert start.group_name == f"{job} · {sweep_dir.name}"  # its folder, shown first
        assert {  # after the epoch curves in Time Series
            "report/confusion_matrix",
            "report/misclassified",
            "report/samples",
        } <= set(values)
        assert "summary" in values  # the final values as text, not one-point charts
        assert not any(tag.startswith("final/") for tag in values)
        # The final values are points on the epoch charts, at the epochs they belong to.
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text())
        test_points = scalar_points(run_events / "test")
        assert test_points["epoch_accuracy"] == [(1, pytest.approx(metrics["test_accuracy"]))]
        assert test_points["epoch_loss"] == [(1, pytest.approx(metrics["test_loss"]))]
        best = scalar_points(run_events / "validation_best")["epoch_accuracy"]
        assert best == [(1, pytest.approx(metrics["best_val_accuracy"]))]
        validation = scalar_points(run_events / "validation")["epoch_accuracy"]
        assert validation == best  # one epoch: the best validation point is that epoch's
    # Named by the swept keys; the overrides every job shares (debug=smoke) would only hide them.
    assert names == {
        "0": "mlp-seed0",
        "1": "mlp-seed1",
        "3": "cnn_small-seed0",
        "4": "cnn_small-seed1",
    }
    assert not list(sweep_dir.glob("events.out.tfevents.*")), "no anonymous '.' run at the root"
    root_events = read_events(sweep_dir / "sweep-hparams")
    root = {value.tag: value for event in root_events for value in event.summary.value}
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        root["_hparams_/experiment"].metadata.plugin_data.content
    ).experiment
    domains = {
        info.name: [v.string_value or v.number_value for v in info.domain_discrete.values]
        for info in experiment.hparam_infos
    }
    assert {key: sorted(values) for key, values in domains.items()} == {
        "model": ["cnn_small", "mlp"],
        "seed": ["-1", "0", "1"],
    }


def test_experiment_preset_runs_from_the_command_line(tmp_path):
    result = run_cli(
        "+experiment=classic_cnn",
        "debug=smoke",
        f"hydra.run.dir={tmp_path}/run",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["model"] == "cnn" and metrics["status"] == "completed"
    (attempt,) = json.loads((tmp_path / "run" / "provenance.json").read_text())["attempts"]
    assert attempt["command"] == (
        f"python -m mnist_exp +experiment=classic_cnn debug=smoke hydra.run.dir={tmp_path}/run"
    )


def test_a_closed_pipe_ends_compare_quietly_every_time(sweep, tmp_path):
    """Its reader gone before it writes (`... | head -1` losing the race, 1 time in 6 before):
    every run ends quietly with 141, the status a shell gives it."""
    sweep_dir, _ = sweep
    for _ in range(3):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before anything is written
        result = compare_runs(str(sweep_dir), cwd=tmp_path, capture_output=False,
                              stdout=write_end, stderr=subprocess.PIPE)  # fmt: skip
        os.close(write_end)
        assert result.returncode == 141, result.stderr[-2000:]
        assert result.stderr == "", result.stderr[-2000:]


def compare_runs(*arguments: str, columns: str | None = None, cwd, **options):
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    """`python -m mnist_exp.cli.compare ARGUMENTS`, $COLUMNS set only when `columns` is."""
    options.setdefault("capture_output", True)
    command = [sys.executable, "-m", "mnist_exp.cli.compare", *arguments]
    return subprocess.run(command, text=True, timeout=120, cwd=cwd, env=env, **options)


def test_compare_fits_the_terminal_and_wide_shows_every_column(sweep, tmp_path):
    sweep_dir, _ = sweep
    narrow = compare_runs(str(sweep_dir), columns="80", cwd=tmp_path)
    assert narrow.returncode == 0, narrow.stderr
    assert max(map(len, narrow.stdout.splitlines())) <= 80
    assert "left out to fit 80 columns (num_params, images_per_second" in narrow.stderr
    assert "test_accuracy" in narrow.stdout and "status" in narrow.stdout
    wide = compare_runs(str(sweep_dir), "--wide", columns="80", cwd=tmp_path)
    assert max(map(len, wide.stdout.splitlines())) > 80 and "num_params" in wide.stdout
    piped = compare_runs(str(sweep_dir), cwd=tmp_path)  # no terminal, no $COLUMNS: nothing cut
    assert piped.stdout == wide.stdout and "left out" not in piped.stderr


def test_compare_leaves_smoke_runs_out_beside_real_ones(sweep, tmp_path):
    sweep_dir, _ = sweep
    runs = tmp_path / "runs"
    shutil.copytree(sweep_dir / "0", runs / "smoke")
    shutil.copytree(sweep_dir / "1", runs / "real")
    hydra_file = runs / "real" / ".hydra" / "hydra.yaml"
    hydra_file.write_text(hydra_file.read_text().replace("debug: smoke", "debug: null"))
    shown = compare_runs(str(runs), "--format", "csv", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert len([line for line in shown.stdout.splitlines() if line]) == 2
    assert "runs/real" in shown.stdout
    assert "1 smoke run(s) (debug=smoke) left out; --all shows them." in shown.stderr
    every = compare_runs(str(runs), "--format", "csv", "--all", cwd=tmp_path)
    assert len([line for line in every.stdout.splitlines() if line]) == 3
    assert "left out" not in every.stderr


def test_tensorflow_starts_quietly_unless_asked(sweep, tmp_path):
    from mnist_exp.quiet_start import SHOW_ALL, STARTUP_LINE

    _, result = sweep  # six jobs in one process: TensorFlow started once, its start held
    output = result.stdout + result.stderr
    assert [line for line in output.splitlines() if STARTUP_LINE.search(line)] == []
    assert "epoch 1/1" in output  # everything else still reaches the console
    # TensorFlow imported plainly prints such lines on this machine: the check above can fail.
    raw = subprocess.run(
        [sys.executable, "-c", "import tensorflow as tf; tf.config.list_physical_devices()"],
        capture_output=True, text=True, timeout=300, env={**os.environ, SHOW_ALL: "1"},
    )  # fmt: skip
    assert STARTUP_LINE.search(raw.stderr), raw.stderr[-2000:]
