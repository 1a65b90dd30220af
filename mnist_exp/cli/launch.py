"""`mnist-exp-launch --workers N -- [overrides]` (`python -m mnist_exp.cli.launch`): a multi-worker
run on this machine.

Starts N processes of `python -m mnist_exp strategy=multi_worker ...` on free loopback ports,
in a private network namespace where possible (TensorFlow's servers listen on every
interface; see mnist_exp.distributed.private_network). Worker 0 (the chief) writes the run
directory; worker i keeps only its log, in RUN/workers/i. If one worker fails the others are
stopped; the exit status is the first failure's. On several machines, run the same command
on each with its own TF_CONFIG instead, on a network you trust (the README says how).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_exp.commands import shown
from mnist_exp.distributed.launch import (
    run_workers,
    timestamped_dir,
    where_workers_listen,
    worker_commands,
)
from mnist_exp.quiet_start import quiet_tensorflow_start


def launcher_main(
    argv, *, prog: str, description: str, default_dir: Path, commands, isolate: str | None = None
) -> int:
    """The command line shared by the local launchers.

    Args:
        argv: the arguments (None: sys.argv).
        prog, description: for --help.
        default_dir: the run directory when --run-dir is not given.
        commands: (workers, run_dir, overrides) -> one command per process; the first one's
            output goes to the console, the others' to RUN/workers/I/output.log.
        isolate: the launcher's module, to run it (and so every worker) in a private network
            namespace; None where the workers bind loopback themselves.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--run-dir", type=Path, help=f"default: {default_dir.parent}/TIME")
    parser.add_argument("overrides", nargs="*", help="config overrides")
    arguments = parser.parse_args(argv)
    if arguments.workers < 1:
        parser.error("--workers must be >= 1")
    if arguments.run_dir is None:  # fixed now: a re-executed launcher keeps the same directory
        argv = ["--run-dir", str(default_dir), *argv]
    run_dir = arguments.run_dir or default_dir
    where = where_workers_listen(prog, isolate, argv)
    print(f"{prog}: {arguments.workers} workers {where}, directory {run_dir}", flush=True)
    status = run_workers(commands(arguments.workers, run_dir, arguments.overrides), run_dir)
    print(f"{prog}: {'done' if status == 0 else f'failed (exit {status})'}", flush=True)
    return status


def main(argv=None) -> int:
    quiet_tensorflow_start()
    return launcher_main(
        argv,
        prog=shown("launch"),
        description=__doc__,
        default_dir=timestamped_dir("outputs", "multiworker"),
        commands=worker_commands,
        isolate="mnist_exp.cli.launch",
    )


if __name__ == "__main__":
    sys.exit(main())
