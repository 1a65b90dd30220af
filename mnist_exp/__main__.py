"""`mnist-exp [overrides]` (`python -m mnist_exp`): train and evaluate one experiment, `-m` a
sweep, `resume=RUN_DIR` continue a run. The logic is in mnist_exp.training."""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mnist_exp.commands import shown
from mnist_exp.config_dirs import refuse_missing_config_dirs
from mnist_exp.errors import MnistExpError
from mnist_exp.settings import CONFIG_DIR
from mnist_exp.training.job import Job, run_job


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def run(cfg: DictConfig) -> float:
    """Runs one job and returns its objective for sweepers."""
    try:
        metrics = run_job(cfg, Job.from_hydra())
    except MnistExpError:
        if HydraConfig.get().mode == RunMode.RUN:
            sys.exit(2)  # run_job logged one clear message; no traceback for bad input
        raise
    except KeyboardInterrupt:
        sys.exit(130)  # run_job logged how to continue; no traceback
    return metrics["objective"]


def main() -> None:
    """The console script: checks users' --config-dir folders, then hands over to Hydra."""
    refuse_missing_config_dirs(shown("train"))
    run()


if __name__ == "__main__":
    main()
