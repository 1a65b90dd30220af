"""Free-space checks before the large writes of a run (backups, checkpoints), so a full disk
ends the run with one message while the files already written stay intact. (h5py can crash
the process outright when a write runs out of space, so checking afterwards is too late.)"""

from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from mnist_exp.errors import MnistExpError

# Room left over after a write, for the small files that still follow it (metrics.json,
# history.csv, logs) and for the filesystem's own overhead.
MARGIN_BYTES = 16 * 2**20


class NoSpaceLeft(MnistExpError):
    """Not enough free space for a write; nothing was half-written."""


def free_bytes(directory: Path) -> int:
    return shutil.disk_usage(directory).free


def _mount_point(path: Path) -> Path:
    path = Path(path).resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _message(directory: Path, what: str, free: int | None, needed: int) -> str:
    have = "" if free is None else f"{free / 2**20:.1f} MiB free, "
    return (
        f"no space left on {_mount_point(directory)} for {what} in {directory} ({have}about "
        f"{(needed + MARGIN_BYTES) / 2**20:.1f} MiB needed). Free some space, then continue "
        "the run from its last backup."
    )


def ensure_free_space(directory: Path, needed_bytes: int, what: str) -> None:
    """Raises NoSpaceLeft unless `directory`'s filesystem has room for `needed_bytes` more
    (plus a margin)."""
    free = free_bytes(directory)
    if free < needed_bytes + MARGIN_BYTES:
        raise NoSpaceLeft(_message(directory, what, free, needed_bytes))


@contextmanager
def out_of_space_named(directory: Path, needed_bytes: int, what: str):
    """Checks for room first, and turns an ENOSPC that still happens (another process filled
    the disk meanwhile) into the same NoSpaceLeft message."""
    ensure_free_space(directory, needed_bytes, what)
    try:
        yield
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise NoSpaceLeft(_message(directory, what, None, needed_bytes)) from None
        raise


def training_state_bytes(model) -> int:
    """Bytes of the model's and its optimizer's variables: what a backup or a `.keras` file
    with its optimizer holds, give or take the file format's overhead."""
    import numpy as np

    variables = list(model.variables)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables)
