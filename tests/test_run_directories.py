"""A run's directory is its record: a refused command touches nothing in it, a sweep run again
continues where it stopped, and one process at a time holds a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import run_module

from mnist_exp.runs.lock import RunLock

pytestmark = pytest.mark.slow

SMOKE = ("debug=smoke", "dataset.download=false")


def snapshot(run_dir) -> dict:
    """Every file of a run directory and its bytes."""
    return {
        str(path.relative_to(run_dir)): path.read_bytes()
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and path.name != ".lock"
    }


def test_a_refused_run_leaves_the_run_it_refused_untouched(tmp_path):
    run_dir = tmp_path / "D"
    first = run_module("mnist_exp", *SMOKE, "model=mlp", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(run_dir)

    other = run_module(
        "mnist_exp", *SMOKE, "model=cnn_small", "seed=7", f"hydra.run.dir={run_dir}", cwd=tmp_path
    )
    assert other.returncode == 2
    assert "already holds a different run" in other.stdout
    assert "model.name: 'mlp' -> 'cnn_small'" in other.stdout and "Traceback" not in other.stderr
    assert snapshot(run_dir) == before, "the refused command changed the run's files"

    same = run_module("mnist_exp", *SMOKE, "model=mlp", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert same.returncode == 0 and "already completed; skipped" in same.stdout
    assert snapshot(run_dir) == before

    for refused in (
        ("resume=" + str(run_dir),),  # finished: nothing to resume
        ("resume=" + str(run_dir), "optimizer.learning_rate=0.5"),
    ):
        result = run_module("mnist_exp", *refused, cwd=tmp_path)
        assert result.returncode == 2, refused
        assert snapshot(run_dir) == before, refused


def test_a_sweep_run_again_skips_finished_jobs_and_continues_the_rest(tmp_path):
    sweep_dir = tmp_path / "sweep"
    command = ("-m", *SMOKE, "model=mlp", "seed=0,1", f"hydra.sweep.dir={sweep_dir}")
    first = run_module("mnist_exp", *command, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    finished = json.loads((sweep_dir / "0" / "metrics.json").read_text())
    # Job 1 as a kill leaves it: its record and a 'running' status.
    job1 = sweep_dir / "1" / "metrics.json"
    job1.write_text(json.dumps({**json.loads(job1.read_text()), "status": "running"}))

    again = run_module("mnist_exp", *command, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already completed; skipped" in again.stdout
    assert f"Sweep {sweep_dir}: 2 jobs: 1 skipped, 1 resumed" in again.stdout
    assert json.loads((sweep_dir / "0" / "metrics.json").read_text()) == finished
    resumed = json.loads(job1.read_text())
    assert resumed["status"] == "completed" and "resumed_at" in resumed

    changed = run_module(
        "mnist_exp", "-m", *SMOKE, "model=cnn_small", "seed=0,1",
        f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path,
    )  # fmt: skip
    assert changed.returncode != 0
    assert "2 jobs: 2 refused" in changed.stdout + changed.stderr
    assert json.loads((sweep_dir / "0" / "metrics.json").read_text()) == finished


def test_a_run_directory_is_held_by_one_process(tmp_path):
    run_dir = tmp_path / "D"
    env = {**os.environ, "HOME": str(tmp_path), "MNIST_EXP_CACHE": str(tmp_path / "cache")}
    # 3000 epochs: still running when killed, however fast the machine.
    holder = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp", *SMOKE, "model=mlp", "trainer.epochs=3000",
         "trainer.early_stopping.enabled=false", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "history.csv").is_file():
            assert holder.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        second = run_module("mnist_exp", f"resume={run_dir}", cwd=tmp_path)
        assert second.returncode == 2
        assert f"in use by another process (PID {holder.pid})" in second.stdout
    finally:
        holder.kill()
        holder.wait()
    # kill -9 leaves no stale lock: the directory can be taken at once.
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "running"
    with RunLock(run_dir):
        pass


def test_sigterm_ends_a_run_as_interrupted_and_resumable(tmp_path):
    run_dir = tmp_path / "D"
    env = {**os.environ, "HOME": str(tmp_path), "MNIST_EXP_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp", *SMOKE, "model=mlp", "trainer.epochs=3000",
         "trainer.early_stopping.enabled=false", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (run_dir / "backup").is_dir():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    process.terminate()
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in output and f"Continue with: mnist-exp-resume {run_dir}" in output
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["resumable"] is True


def test_a_diverged_run_exits_non_zero_and_says_what_was_scored(tmp_path):
    result = run_module(
        "mnist_exp", *SMOKE, "model=mlp", "optimizer.learning_rate=1e12",
        f"hydra.run.dir={tmp_path / 'D'}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Training diverged" in result.stdout and "no finite checkpoint" in result.stdout
    assert json.loads((tmp_path / "D" / "metrics.json").read_text())["status"] == "diverged"
