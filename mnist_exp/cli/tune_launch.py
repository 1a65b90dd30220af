"""`mnist-exp-tune-launch --workers N -- [overrides]` (`python -m mnist_exp.cli.tune_launch`): a
distributed search on this machine: one chief (serves the oracle, writes the table and preset)
and N workers (run the trials), on a free loopback port, all sharing one search directory.

On several machines, start the same search on each with its role instead:
    chief:     python -m mnist_exp.cli.tune ... tuning.role=chief tuning.oracle_address=HOST:PORT
    worker i:  python -m mnist_exp.cli.tune ... tuning.role=worker tuning.worker_index=i \\
                 tuning.oracle_address=HOST:PORT tuning.directory=SHARED_DIR
where SHARED_DIR is the chief's run directory on a file system every machine mounts.
"""

from __future__ import annotations

import sys

from mnist_exp.cli.launch import launcher_main
from mnist_exp.commands import shown
from mnist_exp.distributed.launch import timestamped_dir
from mnist_exp.distributed.tuner_launch import search_commands
from mnist_exp.quiet_start import quiet_tensorflow_start


def main(argv=None) -> int:
    quiet_tensorflow_start()
    return launcher_main(
        argv,
        prog=shown("tune-launch"),
        description=__doc__,
        default_dir=timestamped_dir("outputs/tune", "distributed"),
        commands=search_commands,
    )


if __name__ == "__main__":
    sys.exit(main())
