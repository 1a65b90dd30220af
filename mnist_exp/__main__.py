"""`python -m mnist_exp [overrides]`: train and evaluate one experiment (or `-m` a sweep)."""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mnist_exp.errors import MnistExpError
from mnist_exp.experiment import run_experiment


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Runs one job and returns its validation objective for sweepers."""
    hydra_config = HydraConfig.get()
    try:
        metrics = run_experiment(
            cfg, Path(hydra_config.runtime.output_dir), choices=dict(hydra_config.runtime.choices)
        )
    except MnistExpError:
        if hydra_config.mode == RunMode.RUN:
            sys.exit(2)  # Already logged as one clear message; no traceback for bad input.
        raise
    return metrics["objective"]


def _resume_argument(argv: list[str]) -> str | None:
    return next((arg.split("=", 1)[1] for arg in argv if arg.startswith("resume=")), None)


if __name__ == "__main__":
    if resume_dir := _resume_argument(sys.argv[1:]):
        from mnist_exp import resume

        others = [arg for arg in sys.argv[1:] if not arg.startswith("resume=")]
        sys.exit(resume.main([resume_dir, *others]))
    main()
