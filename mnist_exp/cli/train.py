"""`mnist-exp [overrides]` (`python -m mnist_exp`, which starts it through
`mnist_exp/__main__.py`): train and evaluate one experiment, `-m` a sweep, `resume=RUN_DIR`
continue a run. The logic is in mnist_exp.training."""

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mnist_exp.cli.config_mistakes import answer_config_mistakes
from mnist_exp.commands import shown
from mnist_exp.config_dirs import refuse_missing_config_dirs
from mnist_exp.errors import MnistExpError
from mnist_exp.exits import end_hydra_job, leave_without_teardown, run_app
from mnist_exp.quiet_start import quiet_tensorflow_start
from mnist_exp.settings import CONFIG_DIR
from mnist_exp.training.job import Job, run_job

_single_run_finished = False


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def run(cfg: DictConfig) -> float:
    """Runs one job and returns its objective for sweepers."""
    global _single_run_finished
    quiet_tensorflow_start()  # again here: a launcher's worker process never ran main()
    single_run = HydraConfig.get().mode == RunMode.RUN
    try:
        metrics = run_job(cfg, Job.from_hydra())
    except (MnistExpError, KeyboardInterrupt) as error:  # run_job logged why, in one message
        end_hydra_job(error, single_run=single_run)
        raise
    _single_run_finished = single_run
    return metrics["objective"]


def main() -> None:
    """The console script: checks users' --config-dir folders, then hands over to Hydra."""
    quiet_tensorflow_start()
    refuse_missing_config_dirs(shown("train"))
    answer_config_mistakes(shown("train"), "config")
    run_app(run)
    if _single_run_finished:
        leave_without_teardown()
