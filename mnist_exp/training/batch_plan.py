"""How the training data is cut into batches for a strategy: the one place that knows about
global and per-replica batches, input shards and the linear learning-rate scaling rule.
Plain arithmetic, no TensorFlow."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mnist_exp.errors import ConfigError
from mnist_exp.settings import ExperimentSettings


@dataclass(frozen=True)
class BatchPlan:
    replicas: int
    global_batch: int  # images per step, summed over replicas
    num_shards: int  # input pipelines (workers); above 1 each yields its slice of each batch
    steps_per_epoch: int
    learning_rate: float  # the configured rate, scaled by replicas when asked

    @classmethod
    def for_run(
        cls,
        settings: ExperimentSettings,
        *,
        replicas: int,
        multi_worker: bool,
        num_train: int,
    ) -> BatchPlan:
        """The plan for `num_train` training images on `replicas` replicas.

        Raises:
            ConfigError: when a global batch does not split evenly across the replicas.
        """
        batch_size = settings.trainer.batch_size
        per_replica = settings.strategy.batch_size_per_replica
        global_batch = batch_size * replicas if per_replica else batch_size
        if global_batch % replicas:
            raise ConfigError(
                f"trainer.batch_size={batch_size} does not split across {replicas} replicas; "
                "use a multiple of the replica count, or strategy.batch_size_per_replica=true."
            )
        num_shards = replicas if multi_worker else 1
        # A sharded pipeline drops the last, partial batch: every shard must get a slice.
        steps = num_train // global_batch if num_shards > 1 else math.ceil(num_train / global_batch)
        _check_steps_per_execution(settings, steps, num_train, global_batch)
        scale = replicas if settings.strategy.scale_learning_rate else 1
        return cls(
            replicas=replicas,
            global_batch=global_batch,
            num_shards=num_shards,
            steps_per_epoch=steps,
            learning_rate=settings.learning_rate * scale,
        )


def _check_steps_per_execution(settings, steps: int, num_train: int, global_batch: int) -> None:
    """Keras takes an epoch's steps `steps_per_execution` at a time: when that does not divide
    them, each epoch runs on into the next one's batches (and the last is cut short)."""
    execution = settings.trainer.steps_per_execution
    if settings.trainer.epochs == 1 or steps % execution == 0:
        return
    divisors = [str(d) for d in range(2, min(steps, 64) + 1) if steps % d == 0][:4]
    raise ConfigError(
        f"trainer.steps_per_execution={execution} does not divide the {steps} steps of an "
        f"epoch ({num_train:,} images at batch {global_batch}): Keras would run each epoch "
        f"into the next one's batches. Use {' or '.join(['1', *divisors])}, or a batch size "
        "that makes the steps divide."
    )
