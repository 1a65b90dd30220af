"""`python -m benchmarks.mlflow_cost [--rounds 1] [overrides ...]`: what `logger=mlflow` costs a
run. Starts a local `mlflow server` (SQLite store, artifacts on disk), then runs the same
command (`python -m mnist_exp [overrides]`, `make train`'s job when none are given) without and
with `logger=mlflow`, alternating, and prints each run's training and wall seconds and the
ratios (with / without) of their sums.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tabulate import tabulate


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_mlflow_server(home: Path, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """A local MLflow tracking server storing into `home`; (its process, its URL)."""
    port = _free_port()
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    process = subprocess.Popen(
        [mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{home / 'store.db'}",
         "--artifacts-destination", str(home / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=(home / "server.log").open("w"), cwd=home,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("mlflow server: " + (home / "server.log").read_text()[-2000:])
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.5)


def _run(overrides: list[str], run_dir: Path) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mnist_exp", *overrides, f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {"train": metrics["train_seconds"], "wall": wall, "accuracy": metrics["test_accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("overrides", nargs="*", help="for both runs (default: none)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        server, url = start_mlflow_server(scratch)
        try:
            rows, sums = [], {"plain": [0.0, 0.0], "mlflow": [0.0, 0.0]}
            for round_number in range(arguments.rounds):
                for name, extra in (("plain", []), ("mlflow", ["logger=mlflow"])):
                    overrides = [*arguments.overrides, *extra]
                    if extra:
                        overrides.append(f"logger.tracking_uri={url}")
                    result = _run(overrides, scratch / f"{name}-{round_number}")
                    sums[name][0] += result["train"]
                    sums[name][1] += result["wall"]
                    rows.append([round_number, name, result["train"], round(result["wall"], 1),
                                 result["accuracy"]])  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"python -m mnist_exp {' '.join(arguments.overrides)}  (+ logger=mlflow)")
    print(tabulate(rows, headers=["round", "logger", "train s", "wall s", "test accuracy"]))
    train_ratio = sums["mlflow"][0] / sums["plain"][0]
    wall_ratio = sums["mlflow"][1] / sums["plain"][1]
    print(f"with / without MLflow: training {train_ratio:.3f}, wall {wall_ratio:.3f}")


if __name__ == "__main__":
    main()
