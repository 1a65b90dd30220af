"""`python -m mnist_exp.board [LOGDIR] [--port N]`: TensorBoard over the runs, on localhost.

Every run, multirun job and their HParams appear; pass `--host 0.0.0.0` only if you mean to
expose it to your network.
"""

from __future__ import annotations

import argparse
import os
import sys

from mnist_exp.commands import shown


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=shown("board"), description=__doc__)
    parser.add_argument(
        "logdir", nargs="?", default="outputs", help="runs below here (default: outputs)"
    )
    parser.add_argument("--port", type=int, default=6006, help="default: 6006")
    parser.add_argument(
        "--host", default="127.0.0.1", help="default: 127.0.0.1 (this machine only)"
    )
    arguments = parser.parse_args(argv)
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        arguments.logdir,
        "--host",
        arguments.host,
        "--port",
        str(arguments.port),
    ]
    print(
        f"TensorBoard on http://{arguments.host}:{arguments.port} over {arguments.logdir}",
        flush=True,
    )
    # This process becomes TensorBoard (same PID): stopping it stops TensorBoard, and no
    # child is left listening.
    os.execv(sys.executable, command)


if __name__ == "__main__":
    sys.exit(main())
