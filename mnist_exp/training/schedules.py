"""The learning-rate schedules that conf/schedule/NAME.yaml names (`_target_`). Each is called
with the base learning rate, the steps per epoch and the run's epochs, and the option's keys,
and returns a float (a constant rate) or a keras LearningRateSchedule; a user's own schedule
is a function of the same form. Epoch-valued keys are converted to steps here."""

from __future__ import annotations

import math

import keras

from mnist_exp.builder_types import Fraction, NonNegative, Numbers, PositiveNumber

schedules = keras.optimizers.schedules


def constant(learning_rate: float, steps_per_epoch: int, epochs: int) -> float:
    return learning_rate


def exponential(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    *,
    decay_rate: Fraction,
    decay_epochs: PositiveNumber,
):
    """learning_rate * decay_rate ** (epoch / decay_epochs), applied every step."""
    if decay_rate == 0:
        raise ValueError("schedule.decay_rate=0 would stop training after the first step.")
    return schedules.ExponentialDecay(
        learning_rate,
        decay_steps=max(1, round(decay_epochs * steps_per_epoch)),
        decay_rate=decay_rate,
    )


def step(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    *,
    boundaries: Numbers,
    factors: Numbers,
):
    """learning_rate * factors[i] between the boundaries (epochs)."""
    if len(factors) != len(boundaries) + 1:
        raise ValueError(
            f"schedule=step needs one more factor than boundaries; got boundaries={boundaries}, "
            f"factors={factors}."
        )
    if list(boundaries) != sorted(boundaries):
        raise ValueError(f"schedule.boundaries={boundaries} must be increasing.")
    return schedules.PiecewiseConstantDecay(
        boundaries=[round(epoch * steps_per_epoch) for epoch in boundaries],
        values=[learning_rate * factor for factor in factors],
    )


def cosine(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    *,
    warmup_epochs: NonNegative,
    final_fraction: Fraction,
):
    """Linear warm-up from learning_rate/10, then cosine decay to learning_rate *
    final_fraction."""
    warmup_steps = round(warmup_epochs * steps_per_epoch)
    return schedules.CosineDecay(
        initial_learning_rate=learning_rate / 10.0 if warmup_steps else learning_rate,
        decay_steps=max(1, steps_per_epoch * epochs - warmup_steps),
        alpha=final_fraction,
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def one_cycle(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    *,
    peak_fraction: Fraction,
    final_fraction: Fraction,
):
    """See `OneCycle`; `learning_rate` is the peak."""
    if not 0 < peak_fraction < 1:
        raise ValueError(f"schedule.peak_fraction={peak_fraction} must be in (0, 1).")
    return OneCycle(learning_rate, max(1, steps_per_epoch * epochs), peak_fraction, final_fraction)


@keras.saving.register_keras_serializable(package="mnist_exp")
class OneCycle(schedules.LearningRateSchedule):
    """Linear warm-up from `peak / 25` to `peak` over `peak_fraction` of training, then
    cosine annealing to `peak * final_fraction` (Smith & Topin's one-cycle policy)."""

    def __init__(self, peak_learning_rate, total_steps, peak_fraction=0.3, final_fraction=0.0):
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = int(total_steps)
        self.peak_fraction = float(peak_fraction)
        self.final_fraction = float(final_fraction)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        peak = self.peak_learning_rate
        start, final = peak / 25.0, peak * self.final_fraction
        warmup_steps = max(1.0, self.peak_fraction * self.total_steps)
        decay_steps = max(1.0, self.total_steps - warmup_steps)
        rising = start + (peak - start) * step / warmup_steps
        progress = keras.ops.clip((step - warmup_steps) / decay_steps, 0.0, 1.0)
        falling = final + (peak - final) * 0.5 * (1.0 + keras.ops.cos(math.pi * progress))
        return keras.ops.where(step < warmup_steps, rising, falling)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "peak_fraction": self.peak_fraction,
            "final_fraction": self.final_fraction,
        }
