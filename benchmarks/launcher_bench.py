"""`python -m benchmarks.launcher_bench [--rounds 2] [overrides]`: one sweep of six small
jobs run three ways, interleaved, wall time of each:

- sequential (Hydra's basic launcher; each job may use every core);
- joblib with 2 jobs at once, each job's TensorFlow given its share of the cores (the
  default under a parallel launcher);
- joblib with 2 jobs at once, each job's TensorFlow on every core (`strategy.threads` = the
  core count: what happens without the share).

Prints the table and the ratios to sequential.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from mnist_exp.commands import python_argv
from mnist_exp.machine import available_cores

SWEEP = (
    "model=fast_cnn",
    "trainer.epochs=2",
    "dataset.max_train_examples=12000",
    "seed=0,1,2,3,4,5",
)


def ways(cores: int) -> dict[str, tuple[str, ...]]:
    joblib = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    return {
        "sequential": (),
        "joblib, 2 jobs, threads shared": joblib,
        "joblib, 2 jobs, every job on all cores": (*joblib, f"strategy.threads={cores}"),
    }


def timed_sweep(extra: tuple[str, ...], overrides: list[str], root: Path) -> float:
    sweep_dir = tempfile.mkdtemp(dir=root)
    command = [
        *python_argv("train"),
        "-m",
        *SWEEP,
        *overrides,
        *extra,
        f"hydra.sweep.dir={sweep_dir}",
    ]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"sweep failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.launcher_bench", description=__doc__
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("overrides", nargs="*", help="more overrides for every job")
    arguments = parser.parse_args(argv)
    cores = available_cores()
    times: dict[str, list[float]] = {name: [] for name in ways(cores)}
    with tempfile.TemporaryDirectory() as root:
        for round_number in range(arguments.rounds):
            for name, extra in ways(cores).items():  # interleaved rounds
                seconds = timed_sweep(extra, arguments.overrides, Path(root))
                times[name].append(seconds)
                print(f"round {round_number + 1}: {name}: {seconds:.1f} s", flush=True)
    sequential = statistics.median(times["sequential"])
    rows = [
        [name, ", ".join(f"{t:.1f}" for t in values), f"{statistics.median(values):.1f}",
         f"{sequential / statistics.median(values):.2f}x"]
        for name, values in times.items()
    ]  # fmt: skip
    print(f"\nSix jobs ({' '.join(SWEEP)}) on {cores} cores:")
    print(tabulate(rows, headers=["launcher", "wall s per round", "median s", "speed-up"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
