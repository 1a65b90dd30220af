"""Keras Tuner searches from config: search spaces, every tuner kind on tiny synthetic data,
failing trials, kill -9 and resume, a chief with two workers, the exported preset."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import CONFIG_DIR, run_module
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from mnist_exp.cli.tune import compose_training
from mnist_exp.errors import ConfigError, MnistExpError
from mnist_exp.runs.record import config_differences, read_config
from mnist_exp.tuning.overrides import render_value, training_overrides
from mnist_exp.tuning.preset import preset_text
from mnist_exp.tuning.search import run_search
from mnist_exp.tuning.settings import parse_objective, parse_tuner, parse_tuning
from mnist_exp.tuning.space import parse_search_space

SMOKE = ("debug=smoke", "model=mlp", "search=smoke")


def search_config(*overrides: str):
    return OmegaConf.create({"search": OmegaConf.create(dict(overrides))})


def space_of(space: dict):
    return parse_search_space(OmegaConf.create({"search": {"space": space}}))


def tune(tmp_path, *overrides: str, name: str = "search") -> tuple[dict, object]:
    """A real search, in this process, as `python -m mnist_exp.cli.tune` runs it."""
    overrides = (*SMOKE, *overrides)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="tune", overrides=list(overrides))
        summary = run_search(cfg, tmp_path / name, list(overrides), compose=compose_training)
    return summary, pd.read_csv(tmp_path / name / "trials.csv")


# ----------------------------------------------------------------------------- config, no TF
@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"a.b": {"type": "float", "min": 1, "max": 0}}, "min=1 must be below max=0"),
        ({"a.b": {"type": "float", "min": 0, "max": 1, "sampling": "log"}}, "needs min > 0"),
        ({"a.b": {"type": "choice", "values": []}}, "non-empty list"),
        ({"a.b": {"type": "choice", "values": [1, "x"]}}, "mix types"),
        ({"a.b": {"type": "int", "min": 1, "max": 3, "values": [1]}}, "unknown keys ['values']"),
        ({"a.b": {"type": "gaussian"}}, "type one of"),
        ({"a.b": {"type": "boolean", "when": {"model": ["mlp"]}}}, "not searched before it"),
        (
            {
                "model": {"type": "choice", "values": ["mlp", "cnn"]},
                "model.x": {"type": "boolean", "when": {"model": ["resnet"]}},
            },
            "model only takes ['mlp', 'cnn']",
        ),
    ],
)
def test_malformed_search_spaces_are_named(space, message):
    with pytest.raises(ConfigError, match=r".*" + message.replace("[", r"\[").replace("]", r"\]")):
        space_of(space)


def test_choice_of_lists_round_trips_through_labels():
    space = space_of(
        {
            "model.filters": {"type": "choice", "values": [[32, 64], [16, 32]]},
            "x.rate": {"type": "choice", "values": [0, 1.0e-4]},
            "lr": {"type": "float", "min": 1e-4, "max": 1e-2, "sampling": "log"},
        }
    )
    assert space.assignments({"model.filters": "[16, 32]", "x.rate": 0.0, "lr": 0.0012345678}) == {
        "model.filters": [16, 32],
        "x.rate": 0.0,
        "lr": 0.001235,
    }


def test_values_render_as_hydra_overrides():
    assert render_value([32, 64]) == "[32,64]"
    assert render_value(0.001) == "0.001"
    assert render_value(True) == "true"
    assert render_value("light") == "light"
    assert render_value("a b") == "'a b'"


def test_searched_keys_cannot_also_be_fixed_on_the_command_line():
    kept = training_overrides(["model=mlp", "tuner=grid", "tuning.retrain=true", "seed=3"], ("lr",))
    assert kept == ["model=mlp", "seed=3"]
    with pytest.raises(ConfigError, match="model.hidden_units, which the search space varies"):
        training_overrides(["model.hidden_units=[8]"], ("model.hidden_units",))


def tune_config(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="tune", overrides=list(overrides))


def test_tuner_settings_are_checked():
    annealing = tune_config()
    annealing.tuner.name = "annealing"
    with pytest.raises(ConfigError, match="tuner.name='annealing'"):
        parse_tuner(annealing)
    with pytest.raises(ConfigError, match="leave tuner.max_trials null"):
        parse_tuner(tune_config("tuner=hyperband", "tuner.max_trials=5"))
    with pytest.raises(ConfigError, match="tuner.max_epochs"):
        parse_tuner(tune_config("tuner=random", "tuner.max_epochs=many"))
    with pytest.raises(ConfigError, match="expected HOST:PORT"):
        parse_tuning(tune_config("tuning.oracle_address=localhost"))
    with pytest.raises(ConfigError, match="objective.metric='test_accuracy'"):
        parse_objective(tune_config("objective.metric=test_accuracy"))


@pytest.mark.parametrize("name", ["random", "bayesian", "hyperband"])
def test_identical_searches_try_identical_configurations_with_seed_zero(name):
    import keras_tuner

    from mnist_exp.tuning.oracles import build_oracle

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="tune", overrides=[f"tuner={name}", "tuner.seed=0"])

    def first_configurations() -> list[dict]:
        hyperparameters = keras_tuner.HyperParameters()
        parse_search_space(cfg).declare(hyperparameters)
        oracle = build_oracle(parse_tuner(cfg), parse_objective(cfg), hyperparameters)
        return [oracle.populate_space(f"trial{i}")["values"] for i in range(4)]

    assert first_configurations() == first_configurations()


@pytest.mark.parametrize("name", ["random", "grid", "bayesian", "hyperband"])
def test_every_tuner_and_search_option_composes(name):
    searches = sorted(path.stem for path in (CONFIG_DIR / "search").glob("*.yaml"))
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        for search in searches:
            cfg = compose(config_name="tune", overrides=[f"tuner={name}", f"search={search}"])
            assert parse_tuner(cfg).name == name
            assert parse_search_space(cfg).keys


def test_preset_composes_to_the_winning_configuration(tmp_path):
    overrides = ["debug=smoke", "+experiment=best", "model.dropout_rate=0.1", "trainer.epochs=3"]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        text = preset_text(compose_training, overrides, "found by a test")
        (tmp_path / "experiment").mkdir()
        (tmp_path / "experiment" / "found.yaml").write_text(text)
        rerun, _ = compose_training([f"hydra.searchpath=[file://{tmp_path}]", "+experiment=found"])
        target, _ = compose_training(overrides)
    assert text.startswith("# @package _global_\n# found by a test\n")
    assert "override /augment: light" in text and "filters" not in text, text
    assert OmegaConf.to_container(rerun) == OmegaConf.to_container(target)


def test_bad_search_key_fails_before_any_trial(tmp_path):
    with pytest.raises(ConfigError, match=r"search space, trying .*model.filters"):
        tune(tmp_path, "search=cnn_bn")  # model=mlp has no filters
    assert not (tmp_path / "search" / "trials").exists()


# ----------------------------------------------------------------------------- searches
@pytest.mark.parametrize(
    ("tuner", "budget", "expected_trials"),
    [
        ("random", ("tuner.max_trials=2",), 2),
        ("grid", (), 4),  # all 2 x 2 combinations
        ("bayesian", ("tuner.max_trials=3", "tuner.num_initial_points=2"), 3),
        ("hyperband", ("tuner.max_epochs=2", "tuner.factor=2"), None),
    ],
)
@pytest.mark.slow
def test_each_tuner_completes_a_search(tmp_path, caplog, tuner, budget, expected_trials):
    caplog.set_level("INFO")
    summary, table = tune(tmp_path, f"tuner={tuner}", "tuner.max_epochs=1", *budget)
    if tuner == "random":  # progress: the time left, from the trials so far
        assert re.search(
            r"trial 1/2 \(id 0+\) done in .* about [\d.]+ min left \(1 trial to go\)", caplog.text
        )
    assert summary["failed"] == 0 and summary["completed"] == len(table)
    if expected_trials:
        assert len(table) == expected_trials
    else:
        assert 2 <= len(table) <= 6 and set(table["budget_epochs"]) == {1, 2}
    assert list(table["val_accuracy"]) == sorted(table["val_accuracy"], reverse=True)
    assert summary["best_score"] == table["val_accuracy"].iloc[0]
    search_dir = tmp_path / "search"
    runs = sorted(search_dir.glob("trials/trial_*/seed_0/metrics.json"))
    assert len(runs) == len(table)
    assert all(json.loads(run.read_text())["status"] == "completed" for run in runs)
    assert list(search_dir.glob("trials/trial_*/seed_0/tensorboard/*/*events*")), "HParams records"
    names = [path.name for path in search_dir.glob("trials/trial_*/seed_0/tensorboard/*")]
    assert names and not any("debug=" in name for name in names), "named by the searched keys"
    assert all(("trainer.epochs=" in name) == (tuner == "hyperband") for name in names)
    assert (search_dir / "experiment" / "search_best.yaml").is_file()
    header = (search_dir / "trials.md").read_text().splitlines()[0].split("|")
    assert [cell.strip() for cell in header[1:3]] == ["trial", "status"]


@pytest.mark.slow
def test_a_failing_trial_is_recorded_and_the_search_goes_on(tmp_path, monkeypatch):
    from mnist_exp.tuning import trials

    real_run = trials.run_job

    def run_or_fail(cfg, job):
        if list(cfg.model.hidden_units) == [32]:  # the first trial of the grid
            raise RuntimeError("out of memory (simulated)")
        return real_run(cfg, job)

    monkeypatch.setattr(trials, "run_job", run_or_fail)
    summary, table = tune(tmp_path, "tuner=grid", "tuner.max_trials=2", "tuner.max_epochs=1")
    assert len(table) == 2 and summary["completed"] == 1 and summary["failed"] == 1
    assert list(table["status"]) == ["COMPLETED", "FAILED"], "failed trials sort last"
    assert "out of memory (simulated)" in table["reason"].iloc[1]
    assert table["trial"].iloc[0] == 1, "the search went on after the failure"


@pytest.mark.slow
def test_failures_in_a_row_stop_the_search_with_one_message(tmp_path, monkeypatch):
    def always_fail(cfg, job):
        raise RuntimeError("broken (simulated)")

    monkeypatch.setattr("mnist_exp.tuning.trials.run_job", always_fail)
    with pytest.raises(MnistExpError, match="2 trials in a row failed; their reasons are in"):
        tune(tmp_path, "tuner=grid", "tuner.max_consecutive_failed_trials=2")
    table = pd.read_csv(tmp_path / "search" / "trials.csv")
    assert list(table["status"]) == ["FAILED", "FAILED"]
    assert table["reason"].str.contains("broken").all()


@pytest.mark.slow
def test_an_existing_search_is_never_overwritten(tmp_path):
    state = tmp_path / "search" / "trials" / "oracle.json"
    state.parent.mkdir(parents=True)
    state.write_text("{}")
    with pytest.raises(
        MnistExpError, match="already holds a search; nothing was changed. Continue it with"
    ):
        tune(tmp_path, "tuner.max_trials=1")
    assert state.read_text() == "{}"


@pytest.mark.slow
def test_resuming_a_finished_search_keeps_its_trials_and_time(tmp_path):
    first, _ = tune(tmp_path, "tuner.max_trials=1", "tuner.max_epochs=1")
    run = tmp_path / "search" / "trials" / "trial_0" / "seed_0" / "metrics.json"
    finished_at = json.loads(run.read_text())["finished_at"]
    again, table = tune(tmp_path, "tuner.max_trials=1", "tuner.max_epochs=1", "tuning.resume=true")
    assert len(table) == 1 and again["best_trial"] == first["best_trial"]
    assert json.loads(run.read_text())["finished_at"] == finished_at, "not retrained"
    assert again["search_seconds"] >= first["search_seconds"]


@pytest.mark.slow
def test_resume_needs_a_search_and_names_a_damaged_state_file(tmp_path):
    with pytest.raises(MnistExpError, match="holds no search to resume"):
        tune(tmp_path, "tuning.resume=true")
    state = tmp_path / "search" / "trials" / "oracle.json"
    state.parent.mkdir(parents=True)
    (tmp_path / "search" / "trials" / "tuner0.json").write_text("{}")
    state.write_text('{"ongoing_trials": {}, "hyperpar')  # cut short, as a full disk leaves it
    with pytest.raises(MnistExpError, match=r"oracle.json is damaged .* start a new search"):
        tune(tmp_path, "tuning.resume=true")


# ----------------------------------------------------------------------------- processes
def tune_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "mnist_exp.cli.tune", *SMOKE, *arguments]


@pytest.mark.slow
def test_kill_minus_nine_mid_search_then_resume_completes_the_configured_trials(tmp_path):
    """Grid search keeps its order across a resume: Keras Tuner's GridSearchOracle does not
    save it and fails with KeyError (keras-team/keras-tuner#1055, the guard in oracles.py)."""
    search_dir = tmp_path / "search"
    arguments = ("tuner=grid", "tuner.max_epochs=1", f"hydra.run.dir={search_dir}")
    env = {**os.environ, "HOME": str(tmp_path)}
    process = subprocess.Popen(
        tune_command(*arguments), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while len(list(search_dir.glob("trials/trial_*/seed_0/metrics.json"))) < 2:
        assert process.poll() is None, "the search ended before it could be killed"
        assert time.monotonic() < deadline, "the second trial never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    first_run = sorted(search_dir.glob("trials/trial_*/seed_0/metrics.json"))[0]
    first = json.loads(first_run.read_text())
    assert first["status"] == "completed"

    result = run_module("mnist_exp.cli.tune", f"resume={search_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(search_dir / "trials.csv")
    assert sorted(table["trial"]) == [0, 1, 2, 3], "exactly the configured trials, ids kept"
    assert set(table["status"]) == {"COMPLETED"}
    again = json.loads(first_run.read_text())
    assert again["finished_at"] == first["finished_at"], "a completed trial is not rerun"
    combos = table[["optimizer.learning_rate", "model.hidden_units"]].astype(str)
    assert not combos.duplicated().any(), "grid search resumed without repeating a combination"

    record = {p.name: p.read_bytes() for p in (search_dir / ".hydra").iterdir()}
    changed = run_module(
        "mnist_exp.cli.tune", f"resume={search_dir}", "optimizer.learning_rate=0.5", cwd=tmp_path
    )
    assert changed.returncode == 2 and "Refusing ['optimizer.learning_rate=0.5']" in changed.stdout
    assert {p.name: p.read_bytes() for p in (search_dir / ".hydra").iterdir()} == record


@pytest.mark.slow
def test_a_search_stopped_before_its_first_trial_is_started_by_resume(tmp_path):
    """Stopped while TensorFlow starts: the record is written, the oracle's state not yet
    (that state is made here from a finished search). `resume=DIR` starts it as recorded; it
    said "holds no search to resume" while the plain command said "continue it with resume"."""
    search_dir = tmp_path / "search"
    arguments = (*SMOKE, "tuner=grid", "tuner.max_epochs=1", f"hydra.run.dir={search_dir}")
    assert run_module("mnist_exp.cli.tune", *arguments, cwd=tmp_path).returncode == 0
    for path in search_dir.iterdir():
        if path.name not in (".hydra", "tune.log"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    recorded = {p.name: p.read_bytes() for p in (search_dir / ".hydra").iterdir()}

    again = run_module("mnist_exp.cli.tune", *arguments, cwd=tmp_path)
    assert again.returncode == 2 and f"resume={search_dir}" in again.stdout
    resumed = run_module("mnist_exp.cli.tune", f"resume={search_dir}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "stopped before its first trial; starting it as recorded" in resumed.stdout
    table = pd.read_csv(search_dir / "trials.csv")
    assert sorted(table["trial"]) == [0, 1, 2, 3] and set(table["status"]) == {"COMPLETED"}
    assert {p.name: p.read_bytes() for p in (search_dir / ".hydra").iterdir()} == recorded


@pytest.mark.slow
def test_sigterm_mid_search_ends_it_as_interrupted_and_says_how_to_continue(tmp_path):
    search_dir = tmp_path / "search"
    arguments = ("tuner=grid", "tuner.max_epochs=1", f"hydra.run.dir={search_dir}")
    process = subprocess.Popen(
        tune_command(*arguments),
        env={**os.environ, "HOME": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 240
    # Once a trial trains (its TensorBoard folder exists): a signal during TensorFlow's own
    # start-up is another case (see the note on issue 27).
    while not list(search_dir.glob("trials/trial_*/seed_0/tensorboard/*")):
        assert process.poll() is None, "the search ended before it could be stopped"
        assert time.monotonic() < deadline, "no trial ever started training"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-3000:]
    assert f"Continue it with: mnist-exp-tune resume={search_dir}" in output
    assert "Traceback" not in output
    statuses = {
        json.loads(path.read_text())["status"]
        for path in search_dir.glob("trials/trial_*/seed_0/metrics.json")
    }
    assert "interrupted" in statuses


@pytest.mark.slow
def test_chief_and_two_workers_share_one_search_without_duplicates(tmp_path):
    search_dir = tmp_path / "distributed"
    result = run_module(
        "mnist_exp.cli.tune_launch",
        "--workers",
        "2",
        "--run-dir",
        str(search_dir),
        "--",
        *SMOKE,
        "tuner=grid",
        "tuner.max_epochs=1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = pd.read_csv(search_dir / "trials.csv")
    assert sorted(table["trial"]) == [0, 1, 2, 3] and set(table["status"]) == {"COMPLETED"}
    combos = table[["optimizer.learning_rate", "model.hidden_units"]].astype(str)
    assert not combos.duplicated().any()
    runs = list(search_dir.glob("trials/trial_*/seed_*/metrics.json"))
    assert len(runs) == 4, "each trial ran once"
    worker_logs = [(search_dir / "workers" / str(i) / "output.log").read_text() for i in (1, 2)]
    assert sum(log.count("done in") for log in worker_logs) == 4


@pytest.mark.slow
def test_retrain_runs_the_exported_preset_as_a_normal_run(tmp_path):
    summary, _ = tune(
        tmp_path,
        "tuner.max_trials=1",
        "tuner.max_epochs=1",
        "tuning.retrain=true",
        "tuning.retrain_epochs=2",
        "tuning.retrain_overrides=['callbacks.early_stopping.patience=1']",
    )
    retrained = summary["retrain"]
    assert retrained["status"] == "completed" and retrained["epochs_run"] == 2
    run_dir = tmp_path / "search" / "retrain"
    best_trial = tmp_path / "search" / "trials" / f"trial_{summary['best_trial']}" / "seed_0"
    differences = config_differences(read_config(best_trial), read_config(run_dir))
    assert [line.split(":")[0] for line in differences] == [
        "callbacks.early_stopping.patience",
        "trainer.epochs",
    ], "the retrain is the best trial's config plus the retrain overrides, nothing else"
    assert (
        json.loads((run_dir / "metrics.json").read_text())["test_accuracy"]
        == (retrained["test_accuracy"])
    )
    config = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    best = summary["best_values"]
    assert config.callbacks.early_stopping.patience == 1
    assert config.optimizer.learning_rate == best["optimizer.learning_rate"]
    assert list(config.model.hidden_units) == best["model.hidden_units"]
    assert "test accuracy" in (tmp_path / "search" / "experiment" / "search_best.yaml").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("module", ["mnist_exp.cli.tune", "mnist_exp"])
def test_values_read_from_the_environment_never_reach_disk_or_console(
    tmp_path, monkeypatch, module
):
    import numpy as np
    from conftest import make_arrays

    marker = "sk-live-7f3a9c"
    (tmp_path / marker).mkdir()
    np.savez(tmp_path / marker / "digits.npz", **make_arrays(240, 60))
    monkeypatch.setenv("MY_DATA", str(tmp_path / marker / "digits.npz"))
    monkeypatch.setenv("MY_CACHE", str(tmp_path / marker / "cache"))
    run_dir = tmp_path / "run"
    extra = ("search=smoke", "tuner.max_trials=2") if module == "mnist_exp.cli.tune" else ()
    result = run_module(
        module,
        "model=mlp",
        "trainer.epochs=1",
        *extra,
        "dataset.path=${oc.env:MY_DATA}",
        "dataset.cache_dir=${oc.env:MY_CACHE}",
        "dataset.download=false",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert marker not in result.stdout + result.stderr
    leaked = [
        path
        for path in run_dir.rglob("*")
        if path.is_file() and marker.encode() in path.read_bytes()
    ]
    assert leaked == []
    assert "${oc.env:MY_CACHE}" in (run_dir / ".hydra" / "overrides.yaml").read_text()
    if module == "mnist_exp":
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["data_source"] == "${oc.env:MY_DATA}"
    if module == "mnist_exp.cli.tune":  # compare over a search lists its trials, not its root
        from mnist_exp.runs.table import runs_table

        table = runs_table([run_dir])
        assert len(table) == 2 and all("/trials/trial_" in path for path in table["run_dir"])
        assert not [column for column in table.columns if column.startswith(("search", "tuner"))]


def test_a_search_stopped_before_it_started_leaves_no_folder_in_a_sweep_too(tmp_path):
    from mnist_exp import signals
    from mnist_exp.training.job import Job
    from mnist_exp.tuning.job import run_search_job

    sweep = tmp_path / "sweep"
    folder = sweep / "0"  # made by Hydra before the job runs
    folder.mkdir(parents=True)
    signals.note(signal.SIGTERM)  # as while the command started
    try:
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            run_search_job(OmegaConf.create({}), Job(output_dir=folder, sweep_dir=sweep), None)
    finally:
        signals.acted_on()
    assert not folder.exists() and sweep.is_dir()


def test_a_refused_search_leaves_no_folder_behind(tmp_path):
    """Refused once the search holds its folder (a wrong tuner key is found there): one
    message, and no folder, as a refused run leaves none."""
    run_dir = tmp_path / "outputs" / "2026-12-08" / "10-00-00"
    result = subprocess.run(
        tune_command("model=mlp", "tuner.max_trials=-1", f"hydra.run.dir={run_dir}"),
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "tuner.max_trials=-1 must be >= 1" in result.stdout + result.stderr
    assert not (tmp_path / "outputs" / "2026-12-08").exists()


OMEGACONF_ERROR = (
    "Key 'x' is not in struct\n    full_key: hydra.runtime.x\n    object_type=RuntimeConf"
)


@pytest.mark.parametrize("surfaced_as", ["KeyboardInterrupt", "an OmegaConf error"])
def test_a_search_stopped_while_it_is_checked_says_nothing_was_written(
    tmp_path, monkeypatch, caplog, surfaced_as
):
    """A stop while the search space is tried, before the search is recorded: nothing to
    continue, so no folder and no continue hint (it said "Continue it with: mnist-exp-tune
    resume=DIR", which then found no search there). Raised inside Hydra's compose, the stop
    can come out as an OmegaConf error (CI saw exit 1 and "object_type=RuntimeConf"): with
    the stop noted, it is the stop."""
    from mnist_exp import signals
    from mnist_exp.training.job import Job
    from mnist_exp.tuning import job

    def stopped_while_checked(*args, **kwargs):
        signals.note(signal.SIGTERM)
        if surfaced_as == "KeyboardInterrupt":
            raise KeyboardInterrupt("signal SIGTERM")
        raise ValueError(OMEGACONF_ERROR)

    monkeypatch.setattr(signals, "_received", [])
    monkeypatch.setattr(job, "run_search", stopped_while_checked)
    folder = tmp_path / "2026-12-08" / "10-00-00"
    folder.mkdir(parents=True)  # made by Hydra
    with pytest.raises(KeyboardInterrupt):
        job.run_search_job(tune_config(), Job(output_dir=folder), None)
    assert not (tmp_path / "2026-12-08").exists()
    assert "Stopped (signal SIGTERM) before the search started; nothing was written" in (
        caplog.text
    )
    assert "Continue" not in caplog.text


@pytest.mark.slow
def test_a_diverged_trial_is_recorded_with_a_short_reason(tmp_path):
    """The trials table says what happened in a few words; the run's own log keeps the whole
    message (what was scored, where the last finite backup is, what to try)."""
    with pytest.raises(MnistExpError, match="No trial completed; see the reasons in"):
        tune(
            tmp_path, "tuner=grid", "tuner.max_trials=1", "tuner.max_epochs=2", "optimizer=sgd",
            "schedule=step", "schedule.boundaries=[1]", "schedule.factors=[1.0,1e12]",
        )  # fmt: skip
    table = pd.read_csv(tmp_path / "search" / "trials.csv")
    assert list(table["status"]) == ["FAILED"]
    assert table["reason"].iloc[0] == "diverged (non-finite loss after epoch 2)"
    (log,) = (tmp_path / "search" / "trials").rglob("train.log")
    assert "Try a lower optimizer.learning_rate" in log.read_text()


@pytest.mark.slow
def test_a_stop_surfacing_from_a_trials_composition_stops_the_search_and_fails_no_trial(
    tmp_path, monkeypatch
):
    """A stop raised inside Hydra's compose of a trial's config, come out as an OmegaConf
    error: the search stops there, and the trial is not recorded as failed (it was, and the
    search went on to the next trial)."""
    from mnist_exp import signals

    def stopped_in_hydra(overrides):
        if any(override.startswith("seed=") for override in overrides):  # a trial's run
            signals.note(signal.SIGTERM)
            raise ValueError(OMEGACONF_ERROR)
        return compose_training(overrides)

    monkeypatch.setattr(signals, "_received", [])
    overrides = [*SMOKE, "tuner=grid", "tuner.max_trials=2", "tuner.max_epochs=1"]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="tune", overrides=overrides)
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            run_search(cfg, tmp_path / "search", overrides, compose=stopped_in_hydra)
    statuses = [
        json.loads(path.read_text())["status"]
        for path in (tmp_path / "search" / "trials").glob("trial_*/trial.json")
    ]
    assert "FAILED" not in statuses
    assert len(statuses) <= 1, "the search went on after the stop"
