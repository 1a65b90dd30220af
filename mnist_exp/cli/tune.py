"""`mnist-exp-tune [tuner=...] [search=...] [overrides]` (`python -m mnist_exp.cli.tune`): a Keras
Tuner search (`resume=DIR` continues a killed one). The logic is in mnist_exp.tuning."""

if __name__ == "__main__":  # started as the console script is: a stop is noted from here on
    from mnist_exp.__main__ import tune

    raise SystemExit(tune())

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mnist_exp.cli.config_mistakes import answer_config_mistakes
from mnist_exp.commands import shown
from mnist_exp.config_dirs import refuse_missing_config_dirs
from mnist_exp.errors import MnistExpError
from mnist_exp.exits import end_hydra_job, run_app
from mnist_exp.quiet_start import quiet_tensorflow_start
from mnist_exp.settings import CONFIG_DIR
from mnist_exp.training.job import Job
from mnist_exp.tuning.job import run_search_job
from mnist_exp.tuning.overrides import TUNING_ROOTS

CONFIG_NAME = "tune"


def compose_training(overrides: list[str]) -> tuple[DictConfig, dict]:
    """The training config (tuning sections dropped) and group choices for `overrides`."""
    cfg = hydra.compose(config_name=CONFIG_NAME, overrides=overrides, return_hydra_config=True)
    choices = {
        group: choice
        for group, choice in OmegaConf.to_container(cfg.hydra.runtime.choices).items()
        if not group.startswith("hydra") and group not in TUNING_ROOTS
    }
    # Unresolved, as the training app keeps it: values read from the environment
    # (`${oc.env:...}`, where secrets live) never reach a trial's files, logs or HParams.
    container = OmegaConf.to_container(cfg, resolve=False)
    training = {key: value for key, value in container.items() if key not in TUNING_ROOTS}
    training.pop("hydra", None)
    return OmegaConf.create(training), choices


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=CONFIG_NAME)
def run(cfg: DictConfig) -> float | None:
    """Runs (or continues, with `resume=DIR`) one search; returns its best score."""
    quiet_tensorflow_start()  # again here: a launcher's worker process never ran main()
    try:
        summary = run_search_job(
            cfg, Job.from_hydra(), compose=compose_training, compose_search=compose_search
        )
    except (MnistExpError, KeyboardInterrupt) as error:  # run_search_job logged why
        end_hydra_job(error, single_run=HydraConfig.get().mode == RunMode.RUN)
        raise
    return summary.get("best_score")


def compose_search(overrides: list[str]) -> DictConfig:
    """The whole tuning config for `overrides`, as the command line composes it."""
    return hydra.compose(config_name=CONFIG_NAME, overrides=overrides)


def main() -> None:
    """The console script: checks users' --config-dir folders, then hands over to Hydra."""
    quiet_tensorflow_start()
    refuse_missing_config_dirs(shown("tune"))
    answer_config_mistakes(shown("tune"), CONFIG_NAME)
    run_app(run)
