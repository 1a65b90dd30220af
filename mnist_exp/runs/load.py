"""The one way to open a run directory: its config, group choices, metrics, history, class
names and saved model.

Ensemble, resume, export, prediction and serving all open runs through here. Nothing in this
module imports training, tuning or Hydra, so serving code can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from mnist_exp.errors import MnistExpError
from mnist_exp.input_spec import InputSpec
from mnist_exp.runs import artifacts, migrate, record
from mnist_exp.runs.status import Status

if TYPE_CHECKING:
    import pandas as pd


class NotARun(MnistExpError):
    """The directory holds no run, or not the kind of run asked for."""


@dataclass(frozen=True)
class Run:
    """A run directory, read lazily: each file is read once, when first asked for."""

    directory: Path

    @cached_property
    def config(self) -> DictConfig:
        return record.read_config(self.directory)

    @cached_property
    def choices(self) -> dict:
        return record.read_choices(self.directory)

    @cached_property
    def metrics(self) -> dict:
        """metrics.json ({} before the run wrote one; status "unreadable" for a damaged one)."""
        try:
            return artifacts.read_metrics(self.directory) or {}
        except (OSError, ValueError):
            return {"status": "unreadable"}

    @property
    def status(self) -> str | None:
        return self.metrics.get("status")

    @property
    def model_path(self) -> Path:
        return self.directory / artifacts.MODEL_FILE

    def settings(self):
        """The run's typed settings (`mnist_exp.settings.ExperimentSettings`)."""
        from mnist_exp.settings import parse_settings

        return parse_settings(self.config)

    def history(self) -> pd.DataFrame:
        return artifacts.read_history(self.directory)

    @property
    def class_names(self) -> tuple[str, ...]:
        return migrate.class_names(self.metrics, self.config)

    @property
    def input_spec(self) -> InputSpec:
        """The images its model takes (MNIST's for runs recorded before inputs were)."""
        return InputSpec.from_record(self.metrics.get("input"))

    def load_model(self):
        """The saved model, loaded with Keras' safe mode on (never arbitrary code).

        Raises:
            ModelFileError: for a missing, damaged or unsafe model file, saying which.
        """
        from mnist_exp.models.files import load_keras_model

        return load_keras_model(self.model_path)


def open_run(run_dir: Path) -> Run:
    """The run in `run_dir`, whatever its status.

    Raises:
        NotARun: when `run_dir` has no recorded config.
    """
    run_dir = Path(run_dir).resolve()
    if not record.has_record(run_dir):
        raise NotARun(f"{run_dir} is not a run directory (no {record.CONFIG_FILE}).")
    return Run(run_dir)


def open_finished_run(run_dir: Path) -> Run:
    """A completed run with a saved model.

    Raises:
        NotARun: for a directory that is not a run, a run that did not complete, or one
            without a model.
    """
    run = open_run(run_dir)
    if run.status != Status.COMPLETED:
        raise NotARun(f"{run.directory} did not complete (status {run.status}).")
    if not run.model_path.is_file():
        raise NotARun(f"{run.directory} has no {artifacts.MODEL_FILE}.")
    return run
