"""`mnist-exp-board [LOGDIR] [--port N]` (`python -m mnist_exp.cli.board`): TensorBoard over the
runs, on localhost.

Every run, multirun job and search trial appears; the HParams dashboard's columns are the
config keys that differ between the runs below LOGDIR (whatever sweeps they come from), and
new runs appear while it runs. Pass `--host 0.0.0.0` only if you mean to expose it to your
network.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from mnist_exp.commands import shown
from mnist_exp.exits import DONE, REFUSED
from mnist_exp.quiet_start import quiet_tensorflow_start
from mnist_exp.reporting.board_view import refresh
from mnist_exp.scratch import make_scratch_folder
from mnist_exp.signals import stop_signals_handled_by

REFRESH_SECONDS = 30


def main(argv=None) -> int:
    quiet_tensorflow_start()
    parser = argparse.ArgumentParser(prog=shown("board"), description=__doc__)
    parser.add_argument(
        "logdir", nargs="?", default="outputs", help="runs below here (default: outputs)"
    )
    parser.add_argument("--port", type=int, default=6006, help="default: 6006")
    parser.add_argument(
        "--host", default="127.0.0.1", help="default: 127.0.0.1 (this machine only)"
    )
    arguments = parser.parse_args(argv)
    logdir = Path(arguments.logdir)
    if not logdir.is_dir():
        print(f"{shown('board')}: {logdir} is not a folder of runs.", file=sys.stderr)
        return REFUSED
    folder = make_scratch_folder("mnist-exp-board-")
    try:
        view = refresh(logdir, folder)
        print(
            f"TensorBoard on http://{arguments.host}:{arguments.port} over {logdir}: "
            f"{view.runs} run(s); HParams columns: {', '.join(view.columns) or 'none yet'}",
            flush=True,
        )
        command = [sys.executable, "-m", "mnist_exp.reporting.quiet_tensorboard",
                   "--logdir", str(folder), "--host", arguments.host,
                   "--port", str(arguments.port)]  # fmt: skip
        stopped = threading.Event()
        with stop_signals_handled_by(lambda signum, frame: stopped.set()):
            board = subprocess.Popen(command)
            next_refresh = time.monotonic() + REFRESH_SECONDS
            while not stopped.wait(1) and board.poll() is None:
                if time.monotonic() >= next_refresh:
                    view = refresh(logdir, folder, view)
                    next_refresh = time.monotonic() + REFRESH_SECONDS
            board.terminate()
            code = board.wait()
        return DONE if stopped.is_set() else code
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
