"""Strategies from config: mirrored over logical CPUs and multi-worker over loopback train the
tiny config like the default strategy and write the artifacts once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from conftest import read_metrics, run_module, smoke_config

from mnist_exp.commands import python_argv, shown
from mnist_exp.distributed import private_network
from mnist_exp.errors import ConfigError
from mnist_exp.settings import parse_settings
from mnist_exp.training.cluster import is_chief_process

TINY = (
    "debug=smoke",
    "model=mlp",
    "trainer.epochs=3",
    "~callbacks.early_stopping",
    # Averaged weights as well: swapped in for validation under every strategy, and the model
    # scored at the end holds them (the multi-worker loop finalizes them as fit does).
    "+optimizer.use_ema=true",
)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    from mnist_exp.training.runner import run_experiment

    run_dir = tmp_path_factory.mktemp("default")
    run_experiment(smoke_config(*TINY[1:]), run_dir)
    return run_dir


def assert_same_training(run_dir, reference_dir):
    """Per-epoch losses agree to float rounding: a wrong cross-replica reduction (a sum for a
    mean, a replica's half batch taken as the whole) moves them by far more than this."""
    import pandas as pd

    history = pd.read_csv(run_dir / "history.csv")
    reference = pd.read_csv(reference_dir / "history.csv")
    assert len(history) == len(reference) == 3
    for column in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert history[column].tolist() == pytest.approx(reference[column].tolist(), rel=2e-3)
    scored, expected = (read_metrics(path)["test_loss"] for path in (run_dir, reference_dir))
    assert scored == pytest.approx(expected, rel=2e-3)


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_matches_default(tmp_path, default_run):
    result = run_module(
        "mnist_exp",
        *TINY,
        "strategy=mirrored",
        "strategy.cpu_devices=2",
        f"hydra.run.dir={tmp_path}/run",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = read_metrics(tmp_path / "run")
    assert metrics["num_replicas"] == 2 and metrics["global_batch_size"] == 64
    assert_same_training(tmp_path / "run", default_run)


@pytest.mark.slow
def test_two_local_workers_train_like_one_and_only_the_chief_writes(tmp_path, default_run):
    """Across workers the run trains in its own loop (training/custom_loop.py): Keras 3's fit
    fails under MultiWorkerMirroredStrategy (keras-team/keras#20585, tensorflow#72388)."""
    run_dir = tmp_path / "run"
    result = run_module(
        "mnist_exp.cli.launch", "--workers", "2", "--run-dir", str(run_dir), *TINY, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    if private_network.isolation_available():
        assert "workers in a private network namespace" in result.stdout
    metrics = read_metrics(run_dir)
    assert metrics["status"] == "completed" and metrics["num_replicas"] == 2
    assert metrics["epochs_run"] == 3
    assert_same_training(run_dir, default_run)
    assert (run_dir / "model.keras").is_file()
    worker_dir = run_dir / "workers" / "1"
    assert sorted(path.name for path in worker_dir.iterdir()) == [
        ".lock",
        "output.log",
        "train.log",
    ]
    assert "Worker finished" in (worker_dir / "train.log").read_text()


@pytest.mark.slow
def test_a_failing_worker_run_reports_failure(tmp_path):
    result = run_module(
        "mnist_exp.cli.launch",
        "--workers",
        "2",
        "--run-dir",
        str(tmp_path / "run"),
        *TINY,
        "trainer.epochs=-1",
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "failed" in result.stdout


LISTEN_ON_ALL_INTERFACES = """
import socket
server = socket.socket()
server.bind(("0.0.0.0", 0))  # as TensorFlow's gRPC servers do
server.listen()
port = server.getsockname()[1]
with socket.create_connection(("127.0.0.1", port), timeout=5):
    print(port, "reachable inside", flush=True)
input()
"""


@pytest.mark.skipif(
    not private_network.isolation_available(), reason="no user namespaces on this system"
)
def test_a_server_on_all_interfaces_in_the_private_network_is_unreachable_from_outside():
    server = subprocess.Popen(
        private_network.isolated_argv([sys.executable, "-c", LISTEN_ON_ALL_INTERFACES]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port, reached = server.stdout.readline().split(" ", 1)
        assert reached.strip() == "reachable inside"
        with socket.socket() as probe:
            probe.settimeout(2)
            assert probe.connect_ex(("127.0.0.1", int(port))) != 0
    finally:
        server.kill()
        server.wait()


def plan_for(num_train: int, *overrides: str, replicas: int = 2, multi_worker=False):
    from mnist_exp.training.batch_plan import BatchPlan

    settings = parse_settings(smoke_config("strategy=mirrored", *overrides))
    plan = BatchPlan.for_run(
        settings, replicas=replicas, multi_worker=multi_worker, num_train=num_train
    )
    return settings, plan


def test_batch_must_split_across_replicas():
    assert plan_for(640, "trainer.batch_size=64")[1].global_batch == 64
    per_replica = plan_for(640, "trainer.batch_size=64", "strategy.batch_size_per_replica=true")
    assert per_replica[1].global_batch == 128
    with pytest.raises(ConfigError, match="does not split across 2 replicas"):
        plan_for(640, "trainer.batch_size=63")


def test_learning_rate_scales_linearly_when_asked():
    settings, plan = plan_for(640, "strategy.scale_learning_rate=true")
    assert plan.learning_rate == pytest.approx(2 * settings.learning_rate)
    assert plan.steps_per_epoch == 10
    assert plan_for(640)[1].learning_rate == pytest.approx(settings.learning_rate)


def test_sharded_input_drops_the_partial_last_batch():
    assert plan_for(650, multi_worker=False)[1].steps_per_epoch == 11
    sharded = plan_for(650, multi_worker=True)[1]
    assert sharded.steps_per_epoch == 10 and sharded.num_shards == 2


def multi_worker(*overrides: str):
    return parse_settings(smoke_config("strategy=multi_worker", *overrides)).strategy


def test_multi_worker_without_a_cluster_says_how_to_get_one(monkeypatch):
    from mnist_exp.training.strategy import build_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match=shown("launch")):
        build_strategy(multi_worker())


def test_chief_is_worker_zero_or_the_chief_task(monkeypatch):
    assert is_chief_process(parse_settings(smoke_config()).strategy)
    assert is_chief_process(multi_worker("strategy.workers=[a:1,b:2]"))
    assert not is_chief_process(
        multi_worker("strategy.workers=[a:1,b:2]", "strategy.worker_index=1")
    )
    cluster = {"worker": ["a:1", "b:2"]}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})
    )
    assert not is_chief_process(multi_worker())
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {"cluster": {**cluster, "chief": ["c:3"]}, "task": {"type": "worker", "index": 0}}
        ),
    )
    assert not is_chief_process(multi_worker())
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid JSON"):
        is_chief_process(multi_worker())


@pytest.mark.slow
def test_two_workers_as_the_tasks_of_a_slurm_step_train_like_one(tmp_path, default_run):
    """The Slurm path on one machine: the environment `srun --ntasks=2` gives each task, and
    TensorFlow's SlurmClusterResolver turns it into the cluster (no TF_CONFIG, no workers)."""
    port_base = free_port_pair()
    processes = []
    for rank in (0, 1):
        env = {
            **os.environ,
            "SLURM_PROCID": str(rank),
            "SLURM_STEP_NUM_TASKS": "2",
            "SLURM_STEP_NODELIST": "localhost",
            "SLURM_STEP_TASKS_PER_NODE": "2",
            "HOME": str(tmp_path),
        }
        env.pop("TF_CONFIG", None)
        run_dir = tmp_path / ("run" if rank == 0 else f"worker{rank}")
        processes.append(
            subprocess.Popen(
                [*python_argv("train"), *TINY, "strategy=multi_worker",
                 f"strategy.port_base={port_base}", f"hydra.run.dir={run_dir}"],
                env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
        )  # fmt: skip
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs[0][-3000:]
    metrics = read_metrics(tmp_path / "run")
    assert metrics["status"] == "completed" and metrics["num_replicas"] == 2
    assert_same_training(tmp_path / "run", default_run)
    assert not (tmp_path / "worker1" / "model.keras").exists(), "only the chief writes"


def free_port_pair() -> int:
    """A port p with p and p + 1 free (the resolver gives a node's tasks consecutive ports)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                if second.connect_ex(("127.0.0.1", port + 1)) != 0:
                    return port
    raise AssertionError("no two consecutive free ports")
