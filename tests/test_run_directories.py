"""A run's directory is its record: a refused command touches nothing in it, a sweep run again
continues where it stopped, and one process at a time holds a run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import catches_sigterm, run_module, smoke_config

from mnist_exp.errors import MnistExpError
from mnist_exp.runs.lock import RunLock
from mnist_exp.runs.record import logging_into
from mnist_exp.safe_files import LinkRefused

pytestmark = pytest.mark.slow

SMOKE = ("debug=smoke",)


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
         "~callbacks.early_stopping", f"hydra.run.dir={run_dir}"],
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
    process, env = start_a_long_run(tmp_path, run_dir)
    wait_while_running(process, lambda: (run_dir / "backup").is_dir())
    stop_and_expect_a_clean_interruption(process, run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["resumable"] is True

    resumed = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp.cli.resume", str(run_dir)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    epochs = len((run_dir / "history.csv").read_text().splitlines())
    wait_while_running(
        resumed, lambda: len((run_dir / "history.csv").read_text().splitlines()) > epochs
    )
    stop_and_expect_a_clean_interruption(resumed, run_dir)


def start_a_long_run(tmp_path, run_dir):
    """A smoke run of 3,000 epochs in `run_dir`, as a user starts it; (process, its env)."""
    env = {**os.environ, "HOME": str(tmp_path), "MNIST_EXP_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp", *SMOKE, "model=mlp", "trainer.epochs=3000",
         "~callbacks.early_stopping", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return process, env


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_stop_signal_while_the_command_starts_ends_it_quietly(tmp_path, stop):
    """While Python imports the command and Hydra composes its config (before the run holds a
    folder): exit 130 and one line, never a traceback or a death by signal. For the training
    command and, as a console script, the search; from the moment the command has run its
    first line (the ~40 ms of Python's own start before it are Python's)."""
    search = [
        str(Path(sys.executable).parent / "mnist-exp-tune"), *SMOKE, "search=smoke",
        "model=mlp", "tuner.max_trials=2", f"hydra.run.dir={tmp_path / 'T'}",
    ]  # fmt: skip
    for after in (0.0, 0.05, 0.15, 0.3, 0.6):
        process, _ = start_a_long_run(tmp_path, tmp_path / "D")
        tuner = subprocess.Popen(search, cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                                 stderr=subprocess.STDOUT)  # fmt: skip
        for command in (process, tuner):
            wait_while_running(command, lambda command=command: catches_sigterm(command.pid), 30)
        time.sleep(after)
        process.send_signal(stop)
        tuner.send_signal(stop)
        for command, folder in ((process, "D"), (tuner, "T")):
            output, _ = command.communicate(timeout=60)
            assert command.returncode == 130, (after, command.args, output[-2000:])
            assert "Traceback" not in output, (after, output[-2000:])
            started = "Continue" in output  # else nothing was written, no folder left behind
            assert started or not (tmp_path / folder).exists(), (after, output[-2000:])
        for folder in ("D", "T"):
            shutil.rmtree(tmp_path / folder, ignore_errors=True)


@pytest.mark.parametrize("module", ["mnist_exp.cli.tune", "mnist_exp.cli.resume"])
def test_python_dash_m_notes_a_stop_before_the_command_imports_its_libraries(tmp_path, module):
    """`python -m mnist_exp.cli.tune` (and .resume) start as their console scripts do: the stop
    handler is in place before OmegaConf, Hydra or the training library is imported (it came
    after the module's imports, ~0.3 s in, and a stop then was a traceback)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", module, "--help"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    imported = [
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    ]
    assert imported.index("mnist_exp.signals") < imported.index("omegaconf")


def test_a_stop_after_the_run_took_its_folder_before_it_wrote_leaves_no_folder(
    tmp_path, monkeypatch
):
    """The lock's file is all such a folder holds: it goes as the lock is released, and the
    folder Hydra made (and its day's folder) with it. A folder that holds more keeps it."""
    from mnist_exp.training import job

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt("signal SIGTERM")

    monkeypatch.setattr(job, "decide", stopped)
    day = tmp_path / "2026-12-08"
    with pytest.raises(KeyboardInterrupt):
        job.run_job(smoke_config("model=mlp"), job.Job(output_dir=day / "10-00-00"))
    assert not day.exists()

    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine\n")
    with pytest.raises(KeyboardInterrupt):
        job.run_job(smoke_config("model=mlp"), job.Job(output_dir=kept))
    assert sorted(entry.name for entry in kept.iterdir()) == [".lock", "notes.txt"]


def test_a_stop_between_a_sweeps_jobs_ends_the_sweep_and_keeps_the_finished_job(tmp_path):
    sweep = tmp_path / "S"
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp", "-m", *SMOKE, "model=mlp", "seed=0,1",
         "trainer.epochs=60", "~callbacks.early_stopping", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip

    def first_job_done() -> bool:
        metrics = sweep / "0" / "metrics.json"
        return metrics.is_file() and json.loads(metrics.read_text())["status"] == "completed"

    wait_while_running(process, first_job_done)
    process.terminate()
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in output, output[-2000:]
    second = sweep / "1" / "metrics.json"  # stopped as a run, or before it started: no folder
    if second.is_file():
        assert json.loads(second.read_text())["status"] == "interrupted"
    else:
        assert not (sweep / "1").exists(), "a job stopped before it started left its folder"
    assert json.loads((sweep / "0" / "metrics.json").read_text())["status"] == "completed"


def wait_while_running(process, condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)


def stop_and_expect_a_clean_interruption(process, run_dir) -> None:
    """SIGTERM ends it with status 130, no traceback, and the command that continues it."""
    process.terminate()
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in output and f"Continue with: mnist-exp-resume {run_dir}" in output


def test_a_diverged_run_exits_non_zero_and_says_what_was_scored(tmp_path):
    result = run_module(
        "mnist_exp", *SMOKE, "model=mlp", "optimizer.learning_rate=1e12",
        f"hydra.run.dir={tmp_path / 'D'}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Training diverged" in result.stdout and "no finite checkpoint" in result.stdout
    assert json.loads((tmp_path / "D" / "metrics.json").read_text())["status"] == "diverged"


def test_files_of_a_run_are_never_written_through_symbolic_links(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    run_dir = tmp_path / "unpacked-run"
    run_dir.mkdir()
    (run_dir / ".lock").symlink_to(victim)
    (run_dir / "train.log").symlink_to(victim)
    with pytest.raises(LinkRefused, match=r"\.lock is a symbolic link"):
        RunLock(run_dir)
    with (
        pytest.raises(LinkRefused, match=r"train\.log is a symbolic link"),
        logging_into(run_dir, "train"),
    ):
        pass
    exported = subprocess.run(
        [sys.executable, "-m", "mnist_exp.cli.export", str(run_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert exported.returncode == 2 and "Traceback" not in exported.stderr
    assert victim.read_text() == "precious\n"


def test_a_second_sweep_on_a_held_sweep_folder_is_refused_and_writes_nothing(tmp_path):
    sweep_dir = tmp_path / "sweep"
    with RunLock(sweep_dir, ".sweep.lock"):
        second = run_module(
            "mnist_exp", "-m", *SMOKE, "model=mlp", "seed=0,1", f"hydra.sweep.dir={sweep_dir}",
            cwd=tmp_path,
        )  # fmt: skip
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"in use by another process (PID {os.getpid()})" in second.stdout + second.stderr
    assert "Traceback" not in second.stderr
    assert sorted(p.name for p in sweep_dir.iterdir()) == [".sweep.lock"]


def test_a_read_only_or_full_disk_is_one_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    import errno

    from mnist_exp.cli import export

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/r/.export-incomplete-1")

    def read_only(path, *args):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr("mnist_exp.exporting.export.export_run", full_disk)
    assert export.main(["/runs/r"]) == 2
    assert capsys.readouterr().err.strip() == (
        "mnist-exp-export: /runs/r/.export-incomplete-1: No space left on device "
        "(the disk is full: free some space, then run this again)."
    )
    monkeypatch.setattr("mnist_exp.runs.lock.open_unlinked", read_only)
    with pytest.raises(
        MnistExpError, match=r"Read-only file system \(the file system is read-only"
    ):
        RunLock(tmp_path / "run")


def test_a_refused_run_leaves_no_folder_behind(tmp_path):
    (tmp_path / "outputs" / "mine").mkdir(parents=True)  # the user's own empty folder stays
    for overrides in ([], ["hydra.run.dir=outputs/mine/run"]):
        refused = run_module("mnist_exp", *SMOKE, "trainer.batch_size=0", *overrides,
                             cwd=tmp_path)  # fmt: skip
        assert refused.returncode == 2 and "trainer.batch_size=0 must be >= 1" in refused.stdout
    # Before: Hydra's outputs/DATE/TIME/ stayed behind, empty, for every refused command.
    assert sorted(
        p.relative_to(tmp_path).as_posix() for p in (tmp_path / "outputs").rglob("*")
    ) == ["outputs/mine"]


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"attempts": 3}', b"\xff\xfe"])
def test_a_provenance_file_that_is_not_a_record_is_refused_and_kept(tmp_path, content):
    """A resume never overwrites what it cannot read: the earlier attempts' record stays."""
    from mnist_exp.runs import provenance

    path = tmp_path / provenance.PROVENANCE_FILE
    path.write_bytes(content)
    with pytest.raises(MnistExpError, match="is not a provenance record .* Move it out"):
        provenance.record_attempt(tmp_path)
    assert path.read_bytes() == content
    path.unlink()
    assert provenance.record_attempt(tmp_path) == 0
    assert provenance.record_attempt(tmp_path) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "moment",
    ["config recorded, TensorFlow starting", "model built", "first epoch done"],
)
def test_sigterm_at_each_moment_of_a_run_ends_it_the_same_way(tmp_path, moment):
    """Whenever the signal lands once the run has its folder (TensorFlow's start-up, data and
    model, training): exit 130, no traceback, the continue hint, status interrupted."""
    run_dir = tmp_path / "D"
    process, _ = start_a_long_run(tmp_path, run_dir)

    def logged(words: str) -> bool:
        log = run_dir / "train.log"
        return log.is_file() and words in log.read_text()

    reached = {
        "config recorded, TensorFlow starting": lambda: (run_dir / "metrics.json").is_file(),
        "model built": lambda: logged("parameters;"),
        "first epoch done": lambda: logged("epoch 1/"),
    }[moment]
    wait_while_running(process, reached)
    stop_and_expect_a_clean_interruption(process, run_dir)
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "interrupted"
