"""Devices, distribution strategy, batch semantics and precision, built in one place."""

from __future__ import annotations

import json
import logging
import os
import shutil

import tensorflow as tf

from mnist_exp.commands import shown
from mnist_exp.errors import ConfigError
from mnist_exp.settings import StrategySettings
from mnist_exp.training.cluster import in_slurm_step

log = logging.getLogger(__name__)


def configure_cpu_devices(count: int) -> None:
    """Splits the CPU into `count` logical devices, so `mirrored` can run without GPUs.

    Raises:
        ConfigError: if TensorFlow already started with another split (it must come first).
    """
    cpus = tf.config.list_physical_devices("CPU")
    current = tf.config.get_logical_device_configuration(cpus[0]) or [None]
    if len(current) == count:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError as error:
        raise ConfigError(
            f"strategy.cpu_devices={count} must be set before TensorFlow starts, but this "
            f"process already runs it with {len(current)} CPU device(s). Run it in a fresh "
            f"process ({shown('train')} ...)."
        ) from error


def _available_devices() -> list[str]:
    return [device.name for device in tf.config.list_logical_devices()]


def _check_device(device: str) -> None:
    wanted = tf.DeviceSpec.from_string(device)
    for name in _available_devices():
        spec = tf.DeviceSpec.from_string(name)
        if spec.device_type.lower() == (wanted.device_type or "").lower() and (
            wanted.device_index is None or spec.device_index == wanted.device_index
        ):
            return
    raise ConfigError(
        f"strategy device {device!r} does not exist on this machine; available: "
        f"{_available_devices()}. Use strategy.device=/cpu:0 or a listed device."
    )


def slurm_tf_config(port_base: int) -> dict:
    """TF_CONFIG for this task of a Slurm step, from TensorFlow's SlurmClusterResolver: one
    worker per task, on its node's host name, ports from `port_base` up on each node."""
    has_gpus = bool(os.environ.get("CUDA_VISIBLE_DEVICES") or shutil.which("nvidia-smi"))
    if has_gpus:  # the resolver counts them and gives each task its own
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver(port_base=port_base)
    else:
        # The resolver lays tasks out alongside GPUs and lists none on a node without them
        # (its range() step is 0): give it a notional GPU per task, and never let it set
        # CUDA_VISIBLE_DEVICES.
        tasks = int(os.environ["SLURM_STEP_NUM_TASKS"])
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver(
            port_base=port_base, gpus_per_node=tasks, gpus_per_task=1, auto_set_gpu=False
        )
    cluster = resolver.cluster_spec().as_dict()
    task_type, task_id = resolver.get_task_info()
    return {"cluster": cluster, "task": {"type": task_type, "index": task_id}}


def _set_cluster(settings: StrategySettings) -> None:
    """Writes TF_CONFIG from strategy.workers, or checks that TF_CONFIG is there."""
    if settings.workers:
        os.environ["TF_CONFIG"] = json.dumps(
            {
                "cluster": {"worker": list(settings.workers)},
                "task": {"type": "worker", "index": settings.worker_index},
            }
        )
    elif "TF_CONFIG" not in os.environ and in_slurm_step():
        os.environ["TF_CONFIG"] = json.dumps(slurm_tf_config(settings.port_base))
    elif "TF_CONFIG" not in os.environ:
        raise ConfigError(
            "strategy=multi_worker needs a cluster: set TF_CONFIG on every worker, run the "
            "workers as the tasks of a Slurm step (srun), or "
            "strategy.workers=[host:port,...] and strategy.worker_index=N, or start local "
            f"workers with: {shown('launch')} --workers 2 -- [overrides]"
        )


def build_strategy(settings: StrategySettings) -> tf.distribute.Strategy:
    """Returns the tf.distribute strategy named in settings.

    Call it before any other TensorFlow work: the CPU split and the multi-worker
    collectives must be set up before TensorFlow's runtime starts.

    Raises:
        ConfigError: for a device this machine lacks or a missing cluster.
    """
    if settings.name == "multi_worker":
        _set_cluster(settings)
        return tf.distribute.MultiWorkerMirroredStrategy()
    if settings.name == "one_device":
        _check_device(settings.device)
        return tf.distribute.OneDeviceStrategy(settings.device)
    if settings.cpu_devices > 1:
        configure_cpu_devices(settings.cpu_devices)
    if settings.name == "default":
        return tf.distribute.get_strategy()
    devices = list(settings.devices) if settings.devices else None
    if devices is None and settings.cpu_devices > 1 and not tf.config.list_logical_devices("GPU"):
        devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    for device in devices or []:
        _check_device(device)
    return tf.distribute.MirroredStrategy(devices)


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
