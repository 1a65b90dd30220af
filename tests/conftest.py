"""Shared fixtures: composing the real config, tiny data made here, no downloads ever."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from mnist_exp.settings import CONFIG_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_data_homes(tmp_path_factory, monkeypatch):
    """Points every data cache at empty folders, so no test reads or writes a real one."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MNIST_EXP_CACHE", str(home / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(home / "keras"))
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture(autouse=True)
def no_terminal_width(monkeypatch):
    """Tables are cut to $COLUMNS where it is set (mnist-exp-compare): tests that read whole
    tables must not depend on the shell they were started from."""
    monkeypatch.delenv("COLUMNS", raising=False)


def compose_config(*overrides: str):
    """The real config from conf/, composed as `python -m mnist_exp` would."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def smoke_config(*overrides: str):
    """debug=smoke plus overrides: synthetic data, one epoch, never a download."""
    return compose_config("debug=smoke", *overrides)


def free_port() -> int:
    """A TCP port free on loopback now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())


def read_metrics(run_dir) -> dict:
    return read_json(Path(run_dir) / "metrics.json")


def make_arrays(num_train: int = 60, num_test: int = 20, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, size=(num_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(num_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(num_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(num_test) % 10).astype(np.uint8),
    }


@pytest.fixture
def tiny_arrays() -> dict:
    return make_arrays()


def run_module(module: str, *arguments: str, cwd) -> subprocess.CompletedProcess:
    """`python -m module arguments` as a user runs it, with its own empty home and caches."""
    env = {
        **os.environ,
        "HOME": str(cwd),
        "MNIST_EXP_CACHE": str(cwd / "cache"),
        "KERAS_HOME": str(cwd / "keras"),
    }
    for variable in ("HYDRA_FULL_ERROR", "TF_CONFIG"):
        env.pop(variable, None)
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def shapes_run(tmp_path_factory):
    """A finished run of an MLP trained on the drawn shapes (test accuracy ~1)."""
    from drawn_shapes import shapes_dataset

    from mnist_exp.training.job import Job, run_job

    root = tmp_path_factory.mktemp("shapes")
    x_train, y_train = shapes_dataset(800, seed=1)
    x_test, y_test = shapes_dataset(200, seed=2)
    np.savez(root / "shapes.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    cfg = compose_config(
        "model=mlp",
        f"dataset.path={root / 'shapes.npz'}",
        "dataset.validation_size=0.1",
        "dataset.download=false",
        "trainer.epochs=10",
        "trainer.batch_size=32",
        "optimizer.learning_rate=0.01",  # confident answers, not just right ones
    )
    metrics = run_job(cfg, Job(output_dir=root / "run"))
    assert metrics["test_accuracy"] >= 0.95, "the shapes are easy; the MLP must learn them"
    return root / "run", (x_test, y_test)


def catches_sigterm(pid: int) -> bool:
    """Whether the process has its own SIGTERM handler (Linux: /proc/PID/status's SigCgt)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False
