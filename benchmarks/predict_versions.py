"""The predict target's measurement: `mnist-exp-predict` as users run it, this version against
the one the issue measured (the package as commit BASELINE_COMMIT had it, unpacked with
`git archive`), in the same run, on the same PNGs and model.

Each version's command runs in its own process (`python -m` its predict module, with the
version's source tree as the working directory, so that its package is the one imported),
over --copies of the MNIST test PNGs with `--format csv` (rows streamed, every row checked),
and again on one image: images/s = images / (the first's wall time - the second's), i.e.
beyond the command's own start. Versions alternate, `rounds` times; the median is kept.
"""

from __future__ import annotations

import io
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections import defaultdict
from pathlib import Path

from tabulate import tabulate

from benchmarks import targets

ROOT = Path(__file__).resolve().parents[1]


def unpack_package(commit: str, into: Path) -> Path:
    """The `mnist_exp` package as `commit` had it, unpacked under `into` (a source tree).

    Raises:
        RuntimeError: when git cannot give it (no git, not a clone, a shallow clone).
    """
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "mnist_exp"], capture_output=True
    )
    if archive.returncode != 0:
        raise RuntimeError(archive.stderr.decode(errors="replace").strip() or "git failed")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def predict_module(source: Path) -> str:
    """The predict command's module in the tree `source` (older trees kept the commands at
    the package's top level)."""
    moved = (source / "mnist_exp" / "cli" / "predict.py").is_file()
    return "mnist_exp.cli.predict" if moved else "mnist_exp.predict"


def command_seconds(source: Path, model: Path, images: Path, expected_rows: int) -> float:
    """Wall seconds of the predict command of the tree `source` over `images` (a folder or a
    file), in CSV.

    Raises:
        RuntimeError: when the command fails or does not answer one row per image.
    """
    command = [sys.executable, "-m", predict_module(source), str(model), str(images)]
    command += ["--format", "csv"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=source, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    rows = len(done.stdout.splitlines()) - 1  # the header
    if done.returncode != 0 or rows != expected_rows:
        raise RuntimeError(
            f"{source}: predict exited {done.returncode} with {rows} rows for {expected_rows} "
            f"images: {done.stderr[-1000:]}"
        )
    return seconds


def copies_of(folder: Path, copies: int, into: Path) -> Path:
    """`copies` copies of `folder`'s PNGs under `into`: a larger folder, of whose time the
    command's start is a small part."""
    if not into.is_dir():
        for index in range(copies):
            shutil.copytree(folder, into / f"copy{index}")
    return into


def command_rates(pipelines: dict[str, tuple[Path, Path]], folder: Path, rounds: int) -> dict:
    """Images/s beyond its start of each pipeline (source tree, model) over `folder`,
    alternated `rounds` times: the median per pipeline."""
    folder = folder.resolve()  # the commands run in their own trees
    count = sum(1 for _ in folder.rglob("*.png"))
    one_image = next(folder.rglob("*.png"))
    print(f"mnist-exp-predict over {count:,} PNGs, {rounds} alternating rounds:")
    rates = defaultdict(list)
    for round_ in range(rounds):
        for name, (source, model) in pipelines.items():
            print(f"  round {round_ + 1}/{rounds}: {name} ...", flush=True)
            whole = command_seconds(source, model, folder, count)
            start = command_seconds(source, model, one_image, 1)
            rates[name].append(count / max(whole - start, 1e-3))
    return {name: statistics.median(values) for name, values in rates.items()}


def compare_with_baseline(
    run, model: Path | None, pngs: Path, workdir: Path, rounds: int, copies: int
):
    """The predict target: this version's command against the issue's, in the same run."""
    baseline = f"the issue's version ({targets.BASELINE_COMMIT}), model.keras"
    run_dir = run.directory.resolve()  # the commands run in their own trees
    pipelines = {"this version, model.keras": (ROOT, run_dir)}
    if model:
        pipelines[f"this version, {model.name}"] = (ROOT, model.resolve())
    try:
        tree = unpack_package(targets.BASELINE_COMMIT, workdir / "baseline")
        pipelines = {baseline: (tree, run_dir), **pipelines}
    except RuntimeError as error:
        print(f"The issue's version not measured: {error}")
    folder = copies_of(pngs, copies, workdir / "predict_copies")
    rates = command_rates(pipelines, folder, rounds)
    print(tabulate([[name, f"{rate:,.0f}"] for name, rate in rates.items()],
                   headers=["command, MNIST recipe", "images/s (median)"]))  # fmt: skip
    judged = list(pipelines)[-1]  # --model when given: the runtime is a lever the user picks
    return targets.predicting(rates[judged], rates.get(baseline))
