"""The processes of a distributed search on one machine: a chief that serves the oracle and
N workers that run the trials, sharing one search directory."""

from __future__ import annotations

from pathlib import Path

from mnist_exp.commands import python_argv
from mnist_exp.distributed.launch import free_ports


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
