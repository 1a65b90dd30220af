"""Where a run computes: one class per tf.distribute strategy (conf/strategy/), and the
precision policy."""

from __future__ import annotations

from dataclasses import dataclass

from mnist_exp.settings.schema import OptionSettings, require


@dataclass(kw_only=True)
class StrategySettings(OptionSettings, group="strategy"):
    """The keys every strategy reads: how the batch and learning rate follow the replicas,
    and the TensorFlow threads."""

    batch_size_per_replica: bool
    scale_learning_rate: bool
    threads: int | None  # None: the machine, or this job's share of it in a sweep

    def __post_init__(self):
        super().__post_init__()
        require(
            self.threads is None or self.threads >= 1,
            f"strategy.threads={self.threads} must be >= 1 (or null: automatic).",
        )


def _check_cpu_devices(count: int) -> None:
    require(count >= 1, f"strategy.cpu_devices={count} must be >= 1.")


@dataclass(kw_only=True)
class DefaultStrategy(StrategySettings, option="default"):
    cpu_devices: int  # logical CPU devices to split the processor into

    def __post_init__(self):
        super().__post_init__()
        _check_cpu_devices(self.cpu_devices)


@dataclass(kw_only=True)
class OneDeviceStrategy(StrategySettings, option="one_device"):
    device: str


@dataclass(kw_only=True)
class MirroredStrategy(StrategySettings, option="mirrored"):
    devices: list[str] | None  # None: every GPU, or the logical CPU devices
    cpu_devices: int

    def __post_init__(self):
        super().__post_init__()
        _check_cpu_devices(self.cpu_devices)


@dataclass(kw_only=True)
class MultiWorkerStrategy(StrategySettings, option="multi_worker"):
    workers: list[str] | None  # host:port of each worker; None: TF_CONFIG or the Slurm step
    worker_index: int
    port_base: int  # under Slurm: the first worker port on each node

    def __post_init__(self):
        super().__post_init__()
        if self.workers:
            require(
                0 <= self.worker_index < len(self.workers),
                f"strategy.worker_index={self.worker_index} must index strategy.workers "
                f"({len(self.workers)} workers).",
            )


@dataclass(kw_only=True)
class PrecisionSettings:
    policy: str

    POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")

    def __post_init__(self):
        require(
            self.policy in self.POLICIES,
            f"precision.policy={self.policy!r}: expected one of {self.POLICIES}.",
        )
