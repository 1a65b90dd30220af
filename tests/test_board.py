"""`mnist-exp-board`: TensorBoard on localhost, and nothing left running once it is stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import free_port

from mnist_exp.quiet_start import STARTUP_LINE


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def left_running(pattern) -> list[str]:
    found = subprocess.run(["pgrep", "-f", str(pattern)], capture_output=True, text=True)
    return found.stdout.split()


def board_views(temporary) -> list:
    return sorted(temporary.glob("mnist-exp-board-*"))


@pytest.mark.slow
def test_stopping_the_board_stops_tensorboard(tmp_path):
    port = free_port()
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    (tmp_path / "runs").mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp.cli.board", str(tmp_path / "runs"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "console").open("w"),
        env={**os.environ, "TMPDIR": str(temporary)},
    )
    try:
        deadline = time.monotonic() + 90
        while not accepts(port):
            assert process.poll() is None, "the board exited before TensorBoard listened"
            assert time.monotonic() < deadline, "TensorBoard never listened"
            time.sleep(0.3)
        (view,) = board_views(temporary)  # what TensorBoard reads: links to the runs' files
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not accepts(port), "TensorBoard still listens after the board was stopped"
        deadline = time.monotonic() + 15  # TensorBoard's data server ends when its pipe closes
        while left_running(view) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert left_running(view) == [], "a process over the board's view outlived the board"
        assert board_views(temporary) == [], "the board's view was left behind"
        console = (tmp_path / "console").read_text()
        assert "TensorBoard 2." in console, console[-2000:]  # its own line stays
        assert not STARTUP_LINE.search(console), "TensorFlow's start-up reached the console"
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.slow
def test_the_board_declares_the_keys_that_differ_between_all_its_runs(tmp_path):
    from conftest import run_module
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    from mnist_exp.reporting.board_view import refresh

    runs = tmp_path / "runs"
    for name, overrides in {
        "a": ("model=mlp", "trainer.epochs=2"),
        "b": ("model=mlp", "dataset.max_train_examples=300"),
        "c": ("model=cnn_small",),
    }.items():
        trained = run_module(
            "mnist_exp", "debug=smoke", *overrides, f"hydra.run.dir={runs / name}", cwd=tmp_path
        )
        assert trained.returncode == 0, trained.stderr[-2000:]
    (runs / "sweep" / "sweep-hparams").mkdir(parents=True)  # a sweep's own declaration
    (runs / "sweep" / "sweep-hparams" / "events.out.tfevents.1.x").write_bytes(b"")
    view = refresh(runs, tmp_path / "view")
    assert view.runs == 3
    # model.filters (cnn_small's only) and model.hidden_units (mlp's only) are told apart by
    # model; model.dropout_rate is in both, with other values (0.5, 0.0).
    assert view.columns == (
        "model", "dataset.max_train_examples", "model.dropout_rate", "trainer.epochs"
    )  # fmt: skip
    assert not (tmp_path / "view" / "sweep").exists(), "no pseudo-run in the run list"
    links = [p for p in (tmp_path / "view").rglob("events.*") if p.is_symlink()]
    assert len(links) == len(list(runs.rglob("events.out.tfevents.*"))) - 1
    (declaration,) = [
        p for p in (tmp_path / "view").rglob("*.mnist-exp-board") if not p.is_symlink()
    ]
    events = list(EventFileLoader(str(declaration)).Load())
    content = next(
        value.metadata.plugin_data.content
        for event in events
        for value in event.summary.value
        if value.tag == "_hparams_/experiment"
    )
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    assert [info.name for info in experiment.hparam_infos] == list(view.columns)
    metrics = [(info.name.group, info.name.tag) for info in experiment.metric_infos]
    assert ("test", "epoch_accuracy") in metrics
