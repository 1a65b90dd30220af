"""Which process of a multi-worker run this is, read from config, TF_CONFIG or the Slurm step
(no TensorFlow)."""

from __future__ import annotations

import json
import os

from mnist_exp.errors import ConfigError
from mnist_exp.settings import StrategySettings

SLURM_STEP_VARIABLES = (
    "SLURM_PROCID",
    "SLURM_STEP_NUM_TASKS",
    "SLURM_STEP_NODELIST",
    "SLURM_STEP_TASKS_PER_NODE",
)


def in_slurm_step() -> bool:
    """Whether this process is a task of a Slurm job step (`srun`)."""
    return all(variable in os.environ for variable in SLURM_STEP_VARIABLES)


def is_chief_process(settings: StrategySettings) -> bool:
    """True unless this is a non-chief worker of a multi-worker run.

    The chief is the task of type "chief", or worker 0 when the cluster has no chief, as
    TensorFlow's MultiWorkerMirroredStrategy decides.

    Raises:
        ConfigError: for a TF_CONFIG that is not valid JSON.
    """
    if settings.name != "multi_worker":
        return True
    if settings.workers:
        return settings.worker_index == 0
    if "TF_CONFIG" not in os.environ and in_slurm_step():
        return os.environ["SLURM_PROCID"] == "0"
    try:
        tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    except json.JSONDecodeError as error:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {error}") from None
    task = tf_config.get("task", {})
    if task.get("type") == "chief":
        return True
    has_chief = bool(tf_config.get("cluster", {}).get("chief"))
    return not has_chief and task.get("type", "worker") == "worker" and task.get("index", 0) == 0
