"""A whole `mnist-exp +experiment=fast_99` process against a bare `import tensorflow`, timed in
the same run, with where the run's time goes (from its train.log's timestamps).

    python -m benchmarks.whole_run [--rounds 3] [--preset fast_99]

Rounds alternate the two processes, so machine noise hits both alike; medians are reported.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from mnist_exp.commands import python_argv

# Each phase ends at a train.log line (the last one that matches: the training ends at the
# last epoch's line); the first starts with the process, and "exit" runs to its end.
PHASES = (
    ("start-up: imports, config, data", re.compile(r"mnist_exp\.data\.prepare\]")),
    ("model build", re.compile(r"parameters; \d+ replica")),
    ("training", re.compile(r"\] - epoch \d+/\d+ ")),
    ("best weights restored", re.compile(r"Scoring [\d,]+ test images")),
    ("scoring the test set", re.compile(r"Writing the report pictures")),
    ("report pictures and TensorBoard", re.compile(r"Per-class test scores")),
    ("records and summary", re.compile(r"\]\[INFO\] - completed: ")),
)
TIMESTAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")
BARE_IMPORT = [sys.executable, "-c", "import tensorflow"]


def _wall(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def _log_times(log: Path) -> dict[str, float]:
    """Wall-clock time (s since the epoch) of each phase's last line in `log`."""
    found = {}
    for line in log.read_text().splitlines():
        stamp = TIMESTAMP.match(line)
        for name, pattern in PHASES if stamp else ():
            if pattern.search(line):
                moment = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f")
                found[name] = moment.timestamp()
    return found


def phase_seconds(log: Path, started: float, ended: float) -> dict[str, float]:
    """Seconds per phase (see PHASES), then from the summary line to the process's exit."""
    times = _log_times(log)
    names = [name for name, _ in PHASES if name in times]
    marks = [started, *(times[name] for name in names), ended]
    return {
        label: round(marks[index + 1] - marks[index], 3)
        for index, label in enumerate([*names, "exit"])
    }


def whole_run(preset: str, folder: Path, cwd: Path) -> tuple[float, dict[str, float]]:
    """One `python -m mnist_exp +experiment=PRESET` process: its wall seconds and phases."""
    run_dir = folder / f"run-{time.monotonic_ns()}"
    command = [*python_argv("train"), f"+experiment={preset}", f"hydra.run.dir={run_dir}"]
    started = time.time()
    seconds = _wall(command, cwd)
    return seconds, phase_seconds(run_dir / "train.log", started, started + seconds)


def measure(preset: str = "fast_99", rounds: int = 3, cwd: Path | None = None) -> dict:
    cwd = cwd or Path.cwd()
    imports, wholes, phases = [], [], []
    with tempfile.TemporaryDirectory(prefix="whole-run-") as folder:
        for _ in range(rounds):
            imports.append(_wall(BARE_IMPORT, cwd))
            seconds, split = whole_run(preset, Path(folder), cwd)
            wholes.append(seconds)
            phases.append(split)
    median_import, median_whole = statistics.median(imports), statistics.median(wholes)
    return {
        "preset": preset,
        "rounds": rounds,
        "bare_import_seconds": median_import,
        "whole_run_seconds": median_whole,
        "beyond_import_seconds": median_whole - median_import,
        "phases": {name: statistics.median(p[name] for p in phases) for name in phases[0]},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.whole_run", description=__doc__)
    parser.add_argument("--preset", default="fast_99")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    figures = measure(arguments.preset, arguments.rounds)
    print(f"bare `import tensorflow`: {figures['bare_import_seconds']:.2f} s (median)")
    print(f"mnist-exp +experiment={arguments.preset}: {figures['whole_run_seconds']:.2f} s, "
          f"{figures['beyond_import_seconds']:.2f} s beyond the import")  # fmt: skip
    for name, seconds in figures["phases"].items():
        print(f"  {name:34s} {seconds:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
