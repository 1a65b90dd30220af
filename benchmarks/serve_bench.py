"""`python -m benchmarks.serve_bench RUN_DIR`: `mnist-exp-serve` against the tutorials'
Flask app (benchmarks/flask_reference.py), in one run on this machine, interleaved:

- requests/s and p50/p99 latency at concurrency 1, 8, 32, 64 and 128 (one image per
  request), from a light closed-loop client (benchmarks/http_load.py);
- images/s for requests of 16 images, at concurrency 8;
- time from start to healthy, and each server's peak memory (VmHWM).

Every answer is checked against the image's known digit; errors are counted. Loopback only,
a fixed number of requests per measurement. Prints a table, the ratios, and the serving
targets (measured / target / met).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from tabulate import tabulate

from benchmarks import http_load, targets
from benchmarks.digit_images import drawn_digit
from mnist_exp.commands import python_argv
from mnist_exp.distributed.launch import free_ports

CONCURRENCY = (1, 8, 32, 64, 128)
REQUESTS = {1: 300, 8: 600, 32: 1200, 64: 1280, 128: 1280}
MULTI_IMAGES, MULTI_REQUESTS, MULTI_CONCURRENCY = 16, 80, 8


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    url: str
    predict_path: str
    health_path: str
    seconds_to_healthy: float = 0.0

    def peak_memory_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def start(name: str, command: list[str], port: int, predict_path: str, health_path: str) -> Server:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(name, process, f"http://127.0.0.1:{port}", predict_path, health_path)
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited while starting: {command}")
        try:
            if httpx.get(server.url + health_path, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.seconds_to_healthy = time.perf_counter() - started
    return server


def digit_pngs(count: int = 40) -> list[tuple[int, bytes]]:
    rng = np.random.default_rng(0)
    images = []
    for index in range(count):
        label = index % 10
        image, _ = drawn_digit(label, rng)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        images.append((label, buffer.getvalue()))
    return images


def load(server: Server, images, requests: int, concurrency: int, per_request: int) -> dict:
    """`requests` POSTs of `per_request` images, `concurrency` at a time (benchmarks/http_load:
    a client light enough not to be what is measured); every answer checked."""
    host, port = server.url.removeprefix("http://").split(":")
    chosen = [
        [images[(index + k) % len(images)] for k in range(per_request)] for index in range(requests)
    ]
    address = f"{host}:{port}"
    bodies = [
        http_load.multipart_request(
            address, server.predict_path, [(f"{k}.png", data) for k, (_, data) in enumerate(batch)]
        )
        for batch in chosen
    ]
    result = asyncio.run(http_load.run(host, int(port), bodies, concurrency))
    errors = wrong = 0
    for index, answer in result.json_answers():
        if answer is None:
            errors += 1
            continue
        labels = [prediction["label"] for prediction in answer["predictions"]]
        expected = [label for label, _ in chosen[index]]
        wrong += sum(got != want for got, want in zip(labels, expected, strict=True))
    times = np.asarray(result.latencies) * 1000
    return {
        "requests_per_second": requests / result.seconds,
        "images_per_second": requests * per_request / result.seconds,
        "p50_ms": float(np.percentile(times, 50)) if len(times) else float("nan"),
        "p99_ms": float(np.percentile(times, 99)) if len(times) else float("nan"),
        "errors": errors,
        "wrong": wrong,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve_bench", description=__doc__)
    parser.add_argument("run_dir", type=Path)
    arguments = parser.parse_args(argv)
    images = digit_pngs()
    serve_port, flask_port = free_ports(2)
    run_dir = str(arguments.run_dir)
    serve = [*python_argv("serve"), run_dir, "--port", str(serve_port), "--no-page"]
    flask = [sys.executable, "-m", "benchmarks.flask_reference", run_dir]
    servers = [
        start("mnist-exp-serve", serve, serve_port, "/api/predict", "/api/health"),
        start(
            "Flask reference",
            [*flask, "--port", str(flask_port)],
            flask_port,
            "/predict",
            "/health",
        ),
    ]
    results: dict[tuple[str, str], dict] = {}
    try:
        for server in servers:  # warm-up, not measured
            load(server, images, 20, 4, 1)
        for concurrency in CONCURRENCY:
            for server in servers:  # interleaved: the machine's state is shared fairly
                results[server.name, f"c={concurrency}"] = load(
                    server, images, REQUESTS[concurrency], concurrency, 1
                )
        for server in servers:
            results[server.name, f"{MULTI_IMAGES} images, c={MULTI_CONCURRENCY}"] = load(
                server, images, MULTI_REQUESTS, MULTI_CONCURRENCY, MULTI_IMAGES
            )
        memory = {server.name: server.peak_memory_mib() for server in servers}
    finally:
        for server in servers:
            server.process.terminate()
            server.process.wait(timeout=30)
    rows = [
        [name, load_name, f"{r['requests_per_second']:,.1f}", f"{r['images_per_second']:,.0f}",
         f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", r["errors"], r["wrong"]]
        for (name, load_name), r in results.items()
    ]  # fmt: skip
    print(
        tabulate(
            rows,
            headers=[
                "server",
                "load",
                "requests/s",
                "images/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "wrong",
            ],
        )
    )
    print()
    print(tabulate(
        [[s.name, f"{s.seconds_to_healthy:.1f}", f"{memory[s.name]:,.0f}"] for s in servers],
        headers=["server", "start to healthy s", "peak memory MiB"],
    ))  # fmt: skip
    print()
    ours, reference = servers[0].name, servers[1].name
    for load_name in [f"c={c}" for c in CONCURRENCY] + [
        f"{MULTI_IMAGES} images, c={MULTI_CONCURRENCY}"
    ]:
        a, b = results[ours, load_name], results[reference, load_name]
        print(
            f"{load_name}: throughput {a['images_per_second'] / b['images_per_second']:.2f}x the "
            f"reference, p99 {a['p99_ms'] / b['p99_ms']:.2f}x"
        )
    ours_single = {c: results[ours, f"c={c}"] for c in CONCURRENCY}
    print()
    print(targets.table(targets.serving(
        {c: r["requests_per_second"] for c, r in ours_single.items()},
        {c: r["p99_ms"] for c, r in ours_single.items()},
    )))  # fmt: skip
    failures = sum(r["errors"] + r["wrong"] for r in results.values())
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
