"""What produced a run: the versions of what it ran on, the command as typed, the git commit
of the folder it was started from, and the machine. Written into the run folder as
provenance.json, one entry per attempt (a resumed run adds one), so a result can be traced a
month later."""

from __future__ import annotations

import logging
import os
import platform
import shlex
import socket
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from mnist_exp import safe_files
from mnist_exp.errors import MnistExpError
from mnist_exp.machine import available_cores, cpu_model

log = logging.getLogger(__name__)

PROVENANCE_FILE = "provenance.json"
PACKAGES = ("mnist_exp", "tensorflow", "keras", "numpy", "hydra-core", "omegaconf")
GIT_TIMEOUT_SECONDS = 5


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(folder: Path, *arguments: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *arguments],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(folder: Path) -> dict | None:
    """The commit of the repository `folder` is in and whether its tracked files differ from
    it (None: not in a git repository, or no git)."""
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return None
    changes = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {
        "repository": _git(folder, "rev-parse", "--show-toplevel"),
        "commit": commit,
        "dirty": bool(changes) if changes is not None else None,
    }


def command_line() -> str:
    """The command as the user typed it: `mnist-exp ...` for a console script, `python -m
    mnist_exp ...` for a module (whose sys.argv[0] is the path of its __main__.py)."""
    typed = sys.orig_argv
    if Path(sys.argv[0]).name == "__main__.py" and "-m" in typed:
        return shlex.join(["python", *typed[typed.index("-m") :]])
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])


def describe(gpus: list[str]) -> dict:
    """This process's provenance: versions, command, git state of the working folder, machine;
    `gpus` names the accelerators TensorFlow sees."""
    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command_line(),
        "working_directory": os.getcwd(),
        "git": git_state(Path.cwd()),
        "python": platform.python_version(),
        "versions": {package: _version(package) for package in PACKAGES},
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": {"model": cpu_model(), "cores": available_cores()},
        "gpus": gpus,
    }


def gpu_names() -> list[str]:
    """The GPUs TensorFlow sees, by model name (TensorFlow is imported: call it in a run)."""
    import tensorflow as tf

    return [
        tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        for gpu in tf.config.list_physical_devices("GPU")
    ]


def record_attempt(run_dir: Path) -> int:
    """Adds this attempt's provenance to `run_dir`/provenance.json (earlier attempts kept);
    returns its index there, for `record_end`."""
    path = Path(run_dir) / PROVENANCE_FILE
    attempts = [*_earlier_attempts(path), describe(gpu_names())]
    safe_files.write_json_atomically(path, {"attempts": attempts})
    return len(attempts) - 1


def _earlier_attempts(path: Path) -> list:
    """The attempts `path` holds ([] when there is no file yet).

    Raises:
        MnistExpError: for a file that is not this package's provenance record (it is left
            as it is: the record of earlier attempts is never overwritten).
    """
    try:
        recorded = safe_files.read_json(path)
    except ValueError:  # not JSON (UnicodeDecodeError is one too)
        recorded = "unreadable"
    if recorded is None:
        return []
    attempts = recorded.get("attempts") if isinstance(recorded, dict) else None
    if not isinstance(attempts, list):
        raise MnistExpError(
            f'{path} is not a provenance record (expected {{"attempts": [...]}}); '
            "it is left as it is. Move it out of the run folder to continue the run."
        )
    return attempts


def record_end(run_dir: Path, attempt: int, status: str) -> None:
    """Notes when and how the attempt `record_attempt` numbered ended."""
    path = Path(run_dir) / PROVENANCE_FILE
    recorded = safe_files.read_json(path)
    recorded["attempts"][attempt].update(
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"), status=status
    )
    try:
        safe_files.write_json_atomically(path, recorded)
    except OSError as error:  # the run's own end (metrics.json) matters more: not masked
        log.warning("Could not note the attempt's end in %s: %s", path, error)


COLUMNS = ("mnist_exp", "tensorflow", "keras", "commit", "host")  # compare --provenance


def latest_attempt(run_dir: Path) -> dict:
    """The run's latest attempt as provenance.json records it ({} when it has none or the file
    is not a provenance record)."""
    try:
        return _earlier_attempts(Path(run_dir) / PROVENANCE_FILE)[-1]
    except (MnistExpError, IndexError, OSError):
        return {}


def columns(run_dir: Path) -> dict:
    """What `mnist-exp-compare --provenance` shows of a run, from its latest attempt: the
    versions, the git commit of the folder it ran from (`+` when it had changes) and the host."""
    latest = latest_attempt(run_dir)
    if not latest:
        return {}
    versions, git = latest.get("versions") or {}, latest.get("git") or {}
    commit = git.get("commit")
    return {
        **{package: versions.get(package) for package in COLUMNS[:3]},
        "commit": f"{commit[:10]}{'+' if git.get('dirty') else ''}" if commit else None,
        "host": latest.get("host"),
    }
