"""CPU threads for a job's TensorFlow: its share of the machine when several jobs run at once.

Hydra's parallel launchers start N jobs on one machine; each TensorFlow would otherwise take
every core for its thread pools and the jobs would fight (oversubscription: each slower than
N times slower). The share comes from the launcher's own settings: joblib's `n_jobs`,
submitit's `cpus_per_task`, Ray's `num_cpus`; `strategy.threads` overrides it.
"""

from __future__ import annotations

import os

from mnist_exp.machine import available_cores
from mnist_exp.tensorflow_threads import set_tensorflow_threads

ENVIRONMENT = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def cpu_share(launcher: dict | None, cores: int | None = None) -> int | None:
    """Cores for each job under `launcher` (Hydra's `hydra.launcher` config), or None when
    jobs run one at a time (the basic launcher: the job may use the whole machine)."""
    cores = cores or available_cores()
    target = str((launcher or {}).get("_target_", ""))
    if "joblib" in target.lower():
        jobs = int(launcher.get("n_jobs") or -1)
        parallel = jobs if jobs > 0 else max(1, cores + 1 + jobs)  # joblib: -1 = all cores
        return max(1, cores // min(parallel, cores))
    if "submitit" in target.lower() and launcher.get("cpus_per_task"):
        return int(launcher["cpus_per_task"])
    if "ray" in target.lower():
        remote = (launcher.get("ray") or {}).get("remote") or {}
        if remote.get("num_cpus"):
            return int(remote["num_cpus"])
    return None


def configure_threads(threads: int | None) -> dict:
    """Sets TensorFlow's (and OpenMP's) thread pools to `threads` before TensorFlow starts
    its runtime; returns what TensorFlow uses (0: its default, all cores). A process that
    already ran TensorFlow (a reused worker) keeps its pools; the record says which."""
    import tensorflow as tf

    if threads:
        for variable in ENVIRONMENT:
            os.environ[variable] = str(threads)
    set_tensorflow_threads(threads)  # once the runtime is up: reported below as it is
    return {
        "requested": threads,
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "cores": available_cores(),
    }
