"""Trainer and objective settings."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mnist_exp.settings.schema import EPOCH_LOG_KEYS, LAST_EPOCH, check_log_key, require


@dataclass(kw_only=True)
class TrainerSettings:
    epochs: int
    batch_size: int
    deterministic: bool
    steps_per_execution: int
    label_smoothing: float
    checkpoint_monitor: str
    terminate_on_nan: bool
    jit_compile: bool
    verbose: int
    progress: str
    histogram_freq: int  # TensorBoard weight histograms every N epochs (0: none)
    write_graph: bool  # the model graph in TensorBoard
    restore_best_weights: bool  # the test set scored with the best epoch's weights

    def __post_init__(self):
        require(self.epochs >= 1, f"trainer.epochs={self.epochs} must be >= 1.")
        require(self.batch_size >= 1, f"trainer.batch_size={self.batch_size} must be >= 1.")
        require(self.steps_per_execution >= 1, "trainer.steps_per_execution must be >= 1.")
        require(self.verbose in (0, 1, 2), "trainer.verbose must be 0, 1 or 2.")
        require(
            0.0 <= self.label_smoothing < 1.0,
            f"trainer.label_smoothing={self.label_smoothing} must be in [0, 1) (0: none; "
            "0.1 is usual).",
        )
        require(
            self.histogram_freq >= 0,
            f"trainer.histogram_freq={self.histogram_freq} must be >= 0 (0: no histograms).",
        )
        require(
            self.progress in ("auto", "on", "off"),
            f"trainer.progress={self.progress!r}: expected auto, on or off.",
        )
        check_log_key("trainer.checkpoint_monitor", self.checkpoint_monitor, (LAST_EPOCH,))


def better_direction(log_key: str) -> str:
    """ "max" or "min": which way `log_key` (one of EPOCH_LOG_KEYS) improves."""
    return EPOCH_LOG_KEYS[log_key]


@dataclass(kw_only=True)
class ObjectiveSettings:
    """What a run is judged by: the best epoch's value of one history column. The Hydra task
    function returns it (for sweepers), Keras Tuner optimizes it, HParams records it."""

    metric: str
    direction: str  # written out in the config so that sweepers' settings can quote it

    def __post_init__(self):
        check_log_key("objective.metric", self.metric)
        expected = better_direction(self.metric)
        require(
            self.direction == expected,
            f"objective.direction={self.direction!r}: {self.metric} improves towards "
            f"{expected}; set objective.direction={expected}.",
        )

    def best(self, values) -> float:
        """The best finite value of `values` (NaN when there is none)."""
        finite = [float(v) for v in values if math.isfinite(v)]
        if not finite:
            return math.nan
        return max(finite) if self.direction == "max" else min(finite)
