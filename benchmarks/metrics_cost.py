"""`python -m benchmarks.metrics_cost RUN_DIR [--rounds 5]`: what Prometheus metrics cost
`mnist-exp-serve`: the server with and without `--no-metrics`, one at a time, each round
starting a fresh server of each (the order alternating), loading it (one image per request,
concurrency 32, the serving benchmark's client) and stopping it; prints each round's
requests/s and the ratio of the medians.

One server at a time: with both up at once, an A/A run of two identical servers differed by
6.8% (the first started was the slower, round after round), more than what is measured."""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from benchmarks.serve_bench import digit_pngs, load, start
from mnist_exp.commands import python_argv
from mnist_exp.distributed.launch import free_ports

CONCURRENCY, REQUESTS, WARM_UP = 32, 1200, 200
VARIANTS = {"with /metrics": [], "--no-metrics": ["--no-metrics"]}


def measure(run_dir: Path, extra: list[str], images) -> float:
    """Requests/s of a fresh server started with `extra` (after a warm-up load)."""
    (port,) = free_ports(1)
    command = [*python_argv("serve"), str(run_dir), "--no-page", "--port", str(port), *extra]
    server = start("serve", command, port, "/api/predict", "/api/health")
    try:
        load(server, images, WARM_UP, CONCURRENCY, 1)
        result = load(server, images, REQUESTS, CONCURRENCY, 1)
        if result["errors"]:
            raise SystemExit(f"{command}: {result['errors']} errors")
        return result["requests_per_second"]
    finally:
        server.process.terminate()
        server.process.wait(timeout=60)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metrics_cost", description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args(argv)
    images = digit_pngs()
    rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for turn in range(arguments.rounds):
        order = list(VARIANTS.items())[:: 1 if turn % 2 == 0 else -1]
        for name, extra in order:
            rates[name].append(measure(arguments.run_dir, extra, images))
        print(f"round {turn + 1}: "
              + ", ".join(f"{name} {rates[name][-1]:.0f} req/s" for name in VARIANTS),
              flush=True)  # fmt: skip
    with_metrics, without = (statistics.median(rates[name]) for name in VARIANTS)
    cost = 1 - with_metrics / without
    print(f"median req/s at concurrency {CONCURRENCY}: {with_metrics:.0f} with /metrics, "
          f"{without:.0f} without; metrics cost {cost:.1%} of throughput (target <= 2%: "
          f"{'met' if cost <= 0.02 else 'not met'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
