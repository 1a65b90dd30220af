"""`python -m mnist_exp.tuning.launch --workers N -- [overrides]`: a distributed search on this
machine: one chief (serves the oracle, writes the table and preset) and N workers (run the
trials), on a free loopback port, all sharing one search directory.

On several machines, start the same search on each with its role instead:
    chief:     python -m mnist_exp.tune ... tuning.role=chief tuning.oracle_address=HOST:PORT
    worker i:  python -m mnist_exp.tune ... tuning.role=worker tuning.worker_index=i \\
                 tuning.oracle_address=HOST:PORT tuning.directory=SHARED_DIR
where SHARED_DIR is the chief's run directory on a file system every machine mounts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mnist_exp.commands import python_argv, shown
from mnist_exp.distributed.launch import free_ports, launcher_main, timestamped_dir


def search_commands(workers: int, run_dir: Path, overrides: list[str]) -> list[list[str]]:
    """The chief's command first, then each worker's."""
    address = f"127.0.0.1:{free_ports(1)[0]}"
    tune = [*python_argv("tune"), *overrides, f"tuning.oracle_address={address}"]
    commands = [[*tune, "tuning.role=chief", f"hydra.run.dir={run_dir}"]]
    for index in range(workers):
        commands.append(
            [
                *tune,
                "tuning.role=worker",
                f"tuning.worker_index={index}",
                f"tuning.directory={run_dir.resolve()}",
                f"hydra.run.dir={run_dir / 'workers' / str(index + 1)}",
                "hydra.output_subdir=null",
            ]
        )
    return commands


def main(argv=None) -> int:
    return launcher_main(
        argv,
        prog=shown("tune-launch"),
        description=__doc__,
        default_dir=timestamped_dir("outputs/tune", "distributed"),
        commands=search_commands,
    )


if __name__ == "__main__":
    sys.exit(main())
