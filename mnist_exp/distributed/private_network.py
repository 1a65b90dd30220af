"""Local TensorFlow workers in a network namespace of their own.

TensorFlow's gRPC servers listen on every interface (the 0.0.0.0 is built into TensorFlow, no
option changes it), so workers on "127.0.0.1" ports would still be reachable from the
network. Inside a private network namespace (`unshare --net`, as an unprivileged user through
a user namespace) the only interface is a loopback that nothing outside can reach, so the
addresses the workers announce are the only way to them.

`python -m mnist_exp.distributed.private_network COMMAND...` brings that loopback up and
becomes COMMAND; run it through `isolated_argv`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import struct
import subprocess
import sys

INSIDE_FLAG = "MNIST_EXP_PRIVATE_NETWORK"  # set in the environment of what runs inside
_UNSHARE = ["unshare", "--net", "--map-root-user", "--"]


def isolation_available() -> bool:
    """Whether this system lets us create a network namespace (user namespaces enabled)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run([*_UNSHARE, "true"], capture_output=True)
    return probe.returncode == 0


def inside_private_network() -> bool:
    return os.environ.get(INSIDE_FLAG) == "1"


def isolated_argv(command: list[str]) -> list[str]:
    """`command` run in a new private network namespace, with its loopback up."""
    return [*_UNSHARE, sys.executable, "-m", __name__, *command]


def isolated_environment() -> dict[str, str]:
    return {**os.environ, INSIDE_FLAG: "1"}


def bring_up_loopback() -> None:
    """Sets `lo` up (a new namespace starts with it down), as `ip link set lo up` does."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def main(command: list[str]) -> None:
    bring_up_loopback()
    os.execvpe(command[0], command, isolated_environment())


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(f"usage: python -m {__name__} COMMAND...")
    main(sys.argv[1:])
