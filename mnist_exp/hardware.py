"""Distribution strategy and precision policy, built in one place from settings."""

from __future__ import annotations

import keras
import tensorflow as tf

from mnist_exp.errors import ConfigError
from mnist_exp.settings import PrecisionSettings, StrategySettings


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


def build_strategy(settings: StrategySettings) -> tf.distribute.Strategy:
    """Returns the tf.distribute strategy named in settings.

    Raises:
        ConfigError: for a device this machine does not have.
    """
    if settings.name == "default":
        return tf.distribute.get_strategy()
    if settings.name == "one_device":
        _check_device(settings.device)
        return tf.distribute.OneDeviceStrategy(settings.device)
    devices = list(settings.devices) if settings.devices else None
    for device in devices or []:
        _check_device(device)
    return tf.distribute.MirroredStrategy(devices)


def set_precision(settings: PrecisionSettings) -> None:
    """Sets Keras' global dtype policy. Keras 3 adds loss scaling for mixed_float16 itself.

    Raises:
        ConfigError: for mixed_float16 without a GPU (CPUs have no fast float16).
    """
    if settings.policy == "mixed_float16" and not tf.config.list_physical_devices("GPU"):
        raise ConfigError(
            "precision=mixed_float16 needs a GPU and none was found; use precision=float32 "
            "or precision=mixed_bfloat16 on CPU."
        )
    keras.mixed_precision.set_global_policy(settings.policy)
