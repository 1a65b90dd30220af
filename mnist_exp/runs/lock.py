"""One process at a time in a run directory: an OS file lock that dies with its holder.

`flock` is released by the kernel when the holding process ends, however it ends, so a
kill -9 never leaves a stale lock behind; the PID written into the file only names the holder
in the message a second process gets.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from mnist_exp.errors import MnistExpError, os_error_text
from mnist_exp.safe_files import open_unlinked, refuse_links

LOCK_FILE = ".lock"


class RunDirectoryBusy(MnistExpError):
    """Another live process holds the run directory."""


class RunLock:
    """Holds `run_dir` for this process until `release` (or the process's end).

    A folder holding a symbolic link anywhere below it is refused before the lock file is
    made (`safe_files.refuse_links`): every process that writes into a run takes it first.

    Raises:
        RunDirectoryBusy: when another process holds it, naming that process.
        LinkRefused: when the folder holds a link, naming it.
    """

    def __init__(self, run_dir: Path, lock_file: str = LOCK_FILE):
        self.path = Path(run_dir) / lock_file
        refuse_links(run_dir)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = open_unlinked(self.path, os.O_RDWR | os.O_CREAT)
        except OSError as error:
            raise MnistExpError(
                f"Cannot take {run_dir}: {os_error_text(error)} Nothing was changed."
            ) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise RunDirectoryBusy(
                f"{run_dir} is in use by another process (PID {holder}); nothing was changed. "
                "Wait for it to end (or stop it), then run this again."
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self, drop_if_alone: bool = False) -> None:
        """Drops the lock; with `drop_if_alone`, its file too when the folder holds nothing
        else (a run stopped or refused before it wrote anything leaves its folder empty). The
        file goes while still held: a process that opens it later makes a new one."""
        if self._fd is None:
            return
        if drop_if_alone and [entry.name for entry in self.path.parent.iterdir()] == [
            self.path.name
        ]:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)  # closing the descriptor drops the lock
        self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()
