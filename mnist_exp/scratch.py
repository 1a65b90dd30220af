"""Private scratch folders (the server's upload cache, the board's view of the runs, a
worker's throw-away run folder): made 0700 in the system's temp folder with their owner's
PID inside, removed by their command when it ends, and, when their process died without removing
them (kill -9, a crash), removed by the next command that makes one of the same kind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

OWNER_FILE = ".owner-pid"


def _owner_alive(folder: Path) -> bool:
    try:
        pid = int((folder / OWNER_FILE).read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def remove_orphans(prefix: str) -> None:
    """Removes this user's scratch folders named `prefix`* whose process is gone."""
    for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        with contextlib.suppress(OSError):
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            if not _owner_alive(folder):
                shutil.rmtree(folder, ignore_errors=True)


def make_scratch_folder(prefix: str) -> Path:
    """A new private folder for this process, after removing the orphans of `prefix`; the
    caller removes it (`shutil.rmtree`) when done."""
    remove_orphans(prefix)
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    (folder / OWNER_FILE).write_text(f"{os.getpid()}\n")
    return folder
