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


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def left_running(logdir) -> list[str]:
    found = subprocess.run(["pgrep", "-f", str(logdir)], capture_output=True, text=True)
    return found.stdout.split()


@pytest.mark.slow
def test_stopping_the_board_stops_tensorboard(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp.board", str(tmp_path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while not accepts(port):
            assert process.poll() is None, "the board exited before TensorBoard listened"
            assert time.monotonic() < deadline, "TensorBoard never listened"
            time.sleep(0.3)
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        assert not accepts(port), "TensorBoard still listens after the board was stopped"
        deadline = time.monotonic() + 15  # TensorBoard's data server ends when its pipe closes
        while left_running(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert left_running(tmp_path) == [], "a process over the logdir outlived the board"
    finally:
        if process.poll() is None:
            process.kill()
