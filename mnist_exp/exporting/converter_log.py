"""The converters' own output (TensorFlow's C++ logs, tf2onnx's and the TFLite converter's
lines, their warnings) goes into RUN/export/export.log, not the console: the console keeps
the project's lines and the table. When a converter fails, its last lines are shown."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from mnist_exp.safe_files import append_unlinked

LOG_FILE = "export.log"
SHOWN_LINES = 15


def last_lines(path: Path, count: int = SHOWN_LINES) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    return "\n".join(lines[-count:])


@contextlib.contextmanager
def output_into(path: Path) -> Iterator[None]:
    """This process's standard output and error, at the file-descriptor level (so C and C++
    code too), appended to `path` while the block runs; on an error, the log's last lines
    are printed to the console before the error goes on."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    failed = False
    with append_unlinked(path) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            if failed:
                print(f"The converter's last lines ({path}):\n{last_lines(path)}", file=sys.stderr)
