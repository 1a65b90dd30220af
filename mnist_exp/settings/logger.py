"""Where a run is tracked besides its folder: `logger=tensorboard` (the folder's TensorBoard
events only, the default) or `logger=mlflow` (an MLflow tracking server too)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from mnist_exp.settings.schema import OptionSettings, require


@dataclass(kw_only=True)
class LoggerSettings(OptionSettings, group="logger"):
    pass


@dataclass(kw_only=True)
class TensorBoardLogger(LoggerSettings, option="tensorboard"):
    pass


@dataclass(kw_only=True)
class MlflowLogger(LoggerSettings, option="mlflow"):
    tracking_uri: str | None
    experiment_name: str
    tags: dict[str, str]

    def __post_init__(self):
        super().__post_init__()
        require(
            importlib.util.find_spec("mlflow") is not None,
            "logger=mlflow needs MLflow, which is not installed: pip install 'mnist_exp[mlflow]' "
            "(or pick logger=tensorboard).",
        )
        require(bool(self.experiment_name), "logger.experiment_name must not be empty.")
