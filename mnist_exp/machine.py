"""Facts about the machine this process runs on (no TensorFlow)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity: what Slurm, cgroups or `taskset`
    grant), which can be fewer than the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def all_cores_but_one() -> int:
    """Threads for work that runs beside a Python thread which needs a core of its own (an
    event loop, a decoding pool's feeder): at least one."""
    return max(1, available_cores() - 1)


BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 CPU instructions for bfloat16 arithmetic


def cpu_has_bfloat16(cpuinfo: str | None = None) -> bool | None:
    """Whether this CPU computes in bfloat16 natively (None: unknown, e.g. not Linux). Without
    it, TensorFlow emulates bfloat16 and mixed_bfloat16 is slower than float32."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as stream:
                cpuinfo = stream.read()
        except OSError:
            return None
    flags = {word for line in cpuinfo.splitlines() if line.startswith("flags")
             for word in line.split(":", 1)[1].split()}  # fmt: skip
    return bool(flags & set(BFLOAT16_FLAGS)) if flags else None


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo's; elsewhere what the platform module says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"
