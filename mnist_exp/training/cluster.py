"""Which process of a multi-worker run this is, read from config or TF_CONFIG (no TensorFlow)."""

from __future__ import annotations

import json
import os

from mnist_exp.errors import ConfigError
from mnist_exp.settings import StrategySettings


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
    try:
        tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    except json.JSONDecodeError as error:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {error}") from None
    task = tf_config.get("task", {})
    if task.get("type") == "chief":
        return True
    has_chief = bool(tf_config.get("cluster", {}).get("chief"))
    return not has_chief and task.get("type", "worker") == "worker" and task.get("index", 0) == 0
