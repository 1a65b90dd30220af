"""`logger=mlflow` against a real `mlflow server` (SQLite store, artifacts on local disk, a free
port on 127.0.0.1), read back with MlflowClient: params, epochs with their steps, test
metrics, the model, provenance tags; a continued run stays one MLflow run; a sweep is a
parent with a nested run per job; a server that is down never fails a run, and
`mnist-exp-track` sends the run later."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import free_port, read_json, run_module, smoke_config

pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient

from mnist_exp.errors import ConfigError
from mnist_exp.exits import PARTLY
from mnist_exp.runs.lock import RunLock
from mnist_exp.settings import parse_settings
from mnist_exp.training.runner import run_experiment


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from benchmarks.mlflow_cost import start_mlflow_server

    process, url = start_mlflow_server(tmp_path_factory.mktemp("mlflow"))
    yield url
    process.terminate()
    process.wait(timeout=30)


def runs_of(url: str, experiment: str):
    client = MlflowClient(url)
    found = client.get_experiment_by_name(experiment)
    return client, (client.search_runs([found.experiment_id]) if found else [])


@pytest.mark.slow
def test_a_run_and_its_continuation_are_one_mlflow_run(server, tmp_path, monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr("mnist_exp.training.engine.remove_backups", lambda run_dir: None)
    cfg = smoke_config(
        "model=mlp", "trainer.epochs=3", "~callbacks.early_stopping",
        "logger=mlflow", f"logger.tracking_uri={server}", "logger.experiment_name=one_run",
        "+logger.tags.team=vision",
    )  # fmt: skip
    run_dir = tmp_path / "run"
    run_experiment(cfg, run_dir)
    first_id = read_json(run_dir / "mlflow.json")["run_id"]
    metrics = read_json(run_dir / "metrics.json")  # as if killed during epoch 3
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))
    shutil.rmtree(run_dir / "backup" / "epoch-0003")
    monkeypatch.undo()
    finished = run_experiment(cfg, run_dir, resume=True)
    assert finished["resumed_from_epoch"] == 2

    client, (run,) = runs_of(server, "one_run")  # one MLflow run, not two
    assert run.info.run_id == first_id == read_json(run_dir / "mlflow.json")["run_id"]
    assert run.info.status == "FINISHED"
    assert run.data.params["model.name"] == "mlp" and run.data.params["trainer.epochs"] == "3"
    steps = {point.step for point in client.get_metric_history(first_id, "val_accuracy")}
    assert steps == {1, 2, 3}
    assert run.data.metrics["test_accuracy"] == pytest.approx(finished["test_accuracy"])
    assert run.data.tags["version.tensorflow"] == tf.__version__
    assert run.data.tags["team"] == "vision" and run.data.tags["run_dir"] == str(run_dir)
    listed = {item.path for item in client.list_artifacts(first_id)}
    assert {"metrics.json", "history.csv", "provenance.json", "model", "report"} <= listed
    assert "report/confusion_matrix.png" in {
        i.path for i in client.list_artifacts(first_id, "report")
    }
    from mnist_exp.models.files import load_keras_model

    local = client.download_artifacts(first_id, "model/model.keras", str(tmp_path))
    assert load_keras_model(local).count_params() == finished["num_params"]  # loads back


@pytest.mark.slow
def test_a_sweep_is_a_parent_run_with_a_nested_run_per_job(server, tmp_path):
    sweep_dir = tmp_path / "sweep"
    swept = run_module(
        "mnist_exp", "-m", "debug=smoke", "model=mlp", "seed=0,1", "logger=mlflow",
        f"logger.tracking_uri={server}", "logger.experiment_name=a_sweep",
        f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path,
    )  # fmt: skip
    assert swept.returncode == 0, swept.stderr[-3000:]
    _, runs = runs_of(server, "a_sweep")
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId")]
    assert parent.info.run_id == read_json(sweep_dir / "mlflow.json")["run_id"]
    assert parent.info.status == "FINISHED" and len(children) == 2
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parent.info.run_id}
    assert sorted(run.data.params["seed"] for run in children) == ["0", "1"]
    assert all("test_accuracy" in run.data.metrics for run in children)


@pytest.mark.slow
def test_a_server_that_is_down_never_fails_the_run_and_track_sends_it_later(server, tmp_path):
    down = f"http://127.0.0.1:{free_port()}"
    run_dir = tmp_path / "run"
    trained = run_module(
        "mnist_exp", "debug=smoke", "model=mlp", "trainer.epochs=2", "logger=mlflow",
        f"logger.tracking_uri={down}", "logger.experiment_name=late",
        f"hydra.run.dir={run_dir}", cwd=tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert read_json(run_dir / "metrics.json")["status"] == "completed"
    output = trained.stdout + trained.stderr
    warnings = [line for line in output.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and f"mnist-exp-track {run_dir}" in warnings[0], warnings

    with RunLock(run_dir):  # a process holds the run (resuming it, say): track sends nothing
        busy = subprocess.run(
            [sys.executable, "-m", "mnist_exp.cli.track", str(run_dir), "--tracking-uri", server],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert busy.returncode == PARTLY and "in use by another process" in busy.stderr, busy.stderr
    assert runs_of(server, "late")[1] == [] and not (run_dir / "mlflow.json").exists()
    sent = subprocess.run(
        [sys.executable, "-m", "mnist_exp.cli.track", str(run_dir), "--tracking-uri", server],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr[-2000:]
    client, (run,) = runs_of(server, "late")
    steps = [point.step for point in client.get_metric_history(run.info.run_id, "val_loss")]
    assert steps == [1, 2] and run.data.params["model"] == "mlp"  # with the group choices
    assert "config.yaml" in {item.path for item in client.list_artifacts(run.info.run_id)}
    again = subprocess.run(
        [sys.executable, "-m", "mnist_exp.cli.track", str(run_dir), "--tracking-uri", server],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0
    _, runs = runs_of(server, "late")
    assert len(runs) == 1  # the same run, its epochs not sent twice
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == 2


def test_logger_mlflow_without_mlflow_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"pip install 'mnist_exp\[mlflow\]'"):
        parse_settings(smoke_config("logger=mlflow"))
