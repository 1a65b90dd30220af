"""The tuning sections of the config (`tuner`, `tuning`), checked before TensorFlow starts."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from mnist_exp.settings import ObjectiveSettings, parse_section
from mnist_exp.settings.schema import OptionSettings, parse_option
from mnist_exp.settings.schema import require as _require

ROLES = ("standalone", "chief", "worker")


@dataclass(kw_only=True)
class TunerSettings(OptionSettings, group="tuner"):
    """The search algorithm and its budget (conf/tuner/*.yaml): one class per tuner."""

    max_trials: int | None
    max_epochs: int
    executions_per_trial: int
    seed: int
    max_consecutive_failed_trials: int

    def __post_init__(self):
        super().__post_init__()
        _require(
            self.max_trials is None or self.max_trials >= 1,
            f"tuner.max_trials={self.max_trials} must be >= 1 (or null where allowed).",
        )
        _require(self.max_epochs >= 1, f"tuner.max_epochs={self.max_epochs} must be >= 1.")
        _require(
            self.executions_per_trial >= 1,
            f"tuner.executions_per_trial={self.executions_per_trial} must be >= 1.",
        )
        _require(self.seed >= 0, f"tuner.seed={self.seed} must be >= 0.")
        _require(
            self.max_consecutive_failed_trials >= 1,
            "tuner.max_consecutive_failed_trials must be >= 1.",
        )


@dataclass(kw_only=True)
class RandomTunerSettings(TunerSettings, option="random"):
    def __post_init__(self):
        super().__post_init__()
        _require(self.max_trials is not None, "tuner=random needs tuner.max_trials.")


@dataclass(kw_only=True)
class GridTunerSettings(TunerSettings, option="grid"):
    pass


@dataclass(kw_only=True)
class BayesianTunerSettings(TunerSettings, option="bayesian"):
    num_initial_points: int | None
    alpha: float
    beta: float

    def __post_init__(self):
        super().__post_init__()
        _require(self.max_trials is not None, "tuner=bayesian needs tuner.max_trials.")
        _require(
            self.num_initial_points is None or self.num_initial_points >= 1,
            "tuner.num_initial_points must be >= 1 (or null).",
        )
        _require(self.alpha > 0 and self.beta > 0, "tuner.alpha and tuner.beta must be > 0.")


@dataclass(kw_only=True)
class HyperbandTunerSettings(TunerSettings, option="hyperband"):
    factor: int
    hyperband_iterations: int

    def __post_init__(self):
        super().__post_init__()
        _require(
            self.max_trials is None,
            "tuner=hyperband sets its trials from its brackets; "
            "leave tuner.max_trials null and set tuner.max_epochs and tuner.factor.",
        )
        _require(self.factor >= 2, f"tuner.factor={self.factor} must be >= 2.")
        _require(self.hyperband_iterations >= 1, "tuner.hyperband_iterations must be >= 1.")


@dataclass(kw_only=True)
class TuningSettings:
    """Where the search lives, how it is distributed and what happens after it."""

    resume: bool
    directory: str | None
    role: str
    oracle_address: str
    worker_index: int
    retrain: bool
    retrain_epochs: int | None
    retrain_overrides: list[str]

    def __post_init__(self):
        _require(self.role in ROLES, f"tuning.role={self.role!r}: expected one of {ROLES}.")
        host, _, port = self.oracle_address.rpartition(":")
        _require(
            bool(host) and port.isdigit() and 0 < int(port) < 65536,
            f"tuning.oracle_address={self.oracle_address!r}: expected HOST:PORT, "
            "e.g. 127.0.0.1:8000.",
        )
        _require(self.worker_index >= 0, "tuning.worker_index must be >= 0.")
        _require(
            self.retrain_epochs is None or self.retrain_epochs >= 1,
            f"tuning.retrain_epochs={self.retrain_epochs} must be >= 1 (or null).",
        )
        for override in self.retrain_overrides:
            _require(
                "=" in override,
                f"tuning.retrain_overrides: {override!r} is not KEY=VALUE.",
            )

    @property
    def final_overrides(self) -> list[str]:
        """What the retrain and the preset add to the winning configuration."""
        epochs = [] if self.retrain_epochs is None else [f"trainer.epochs={self.retrain_epochs}"]
        return epochs + list(self.retrain_overrides)

    @property
    def tuner_id(self) -> str:
        """Keras Tuner's id for this process; a restarted worker gets its trial back by it."""
        return "chief" if self.role == "chief" else f"tuner{self.worker_index}"

    @property
    def oracle_host(self) -> str:
        return self.oracle_address.rpartition(":")[0]

    @property
    def oracle_port(self) -> int:
        return int(self.oracle_address.rpartition(":")[2])


def parse_tuner(cfg: DictConfig) -> TunerSettings:
    """The `tuner` section as the settings of its kind.

    Raises:
        ConfigError: for an unknown tuner, an unknown key or an impossible budget.
    """
    return parse_option(cfg, TunerSettings)


def parse_objective(cfg: DictConfig) -> ObjectiveSettings:
    """The top-level `objective` section: what trials are scored by (as every run is)."""
    return parse_section(cfg, "objective", ObjectiveSettings)


def parse_tuning(cfg: DictConfig) -> TuningSettings:
    """The `tuning` section, checked."""
    return parse_section(cfg, "tuning", TuningSettings)
