"""Local multi-worker runs: worker commands on free loopback ports, run to the end (a failure
stops the rest), in a private network namespace where the system allows one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from mnist_exp.commands import python_argv
from mnist_exp.distributed import private_network


def free_ports(count: int) -> list[int]:
    """Ports the OS reports free on 127.0.0.1 (held together so they are distinct)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def worker_commands(count: int, run_dir: Path, overrides: list[str]) -> list[list[str]]:
    workers = ",".join(f"127.0.0.1:{port}" for port in free_ports(count))
    commands = []
    for index in range(count):
        command = [
            *python_argv("train"),
            *overrides,
            "strategy=multi_worker",
            f"strategy.workers=[{workers}]",
            f"strategy.worker_index={index}",
        ]
        if index == 0:
            command.append(f"hydra.run.dir={run_dir}")
        else:
            command += [
                f"hydra.run.dir={run_dir / 'workers' / str(index)}",
                "hydra.output_subdir=null",
            ]
        commands.append(command)
    return commands


def run_workers(commands: list[list[str]], run_dir: Path) -> int:
    """Runs the workers to the end; a failure stops the rest. Returns the exit status."""
    processes = []
    for index, command in enumerate(commands):
        if index == 0:
            processes.append(subprocess.Popen(command))
            continue
        log_dir = run_dir / "workers" / str(index)
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "output.log", "w") as output:
            processes.append(subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT))
    status = 0
    try:
        while any(process.poll() is None for process in processes):
            failed = [p.returncode for p in processes if p.returncode not in (None, 0)]
            if failed:
                status = failed[0]
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        status = 130
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    return status or next((p.returncode for p in processes if p.returncode), 0)


def timestamped_dir(root: str, suffix: str) -> Path:
    now = datetime.now()
    return Path(root) / now.strftime("%Y-%m-%d") / now.strftime(f"%H-%M-%S-%f-{suffix}")


def where_workers_listen(prog: str, module: str | None, argv: list[str]) -> str:
    """Re-executes this launcher inside a private network namespace when `module` asks for
    one and the system allows it (this call then does not return); else says where the
    workers' ports can be reached."""
    if module is None:
        return "on 127.0.0.1"
    if private_network.inside_private_network():
        return "in a private network namespace (their ports are unreachable from outside)"
    if private_network.isolation_available():
        command = private_network.isolated_argv([sys.executable, "-m", module, *argv])
        os.execvpe(command[0], command, os.environ)
    print(
        f"{prog}: WARNING: TensorFlow's gRPC servers listen on all network interfaces and "
        "this system cannot isolate them (no user namespaces for `unshare --net`): while "
        "the run lasts, other machines on your network can reach the workers' ports. Run "
        "on a trusted network or firewall them.",
        file=sys.stderr,
        flush=True,
    )
    return "on all interfaces (not isolated)"
