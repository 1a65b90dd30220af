"""`python -m mnist_exp.resume RUN_DIR` (or `python -m mnist_exp resume=RUN_DIR`): continue a
killed, interrupted or failed run in its own directory, with its saved config, from its last
backup. The result matches an uninterrupted run (exactly with trainer.deterministic=true).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from mnist_exp.errors import MnistExpError
from mnist_exp.experiment import run_experiment
from mnist_exp.runs import CONFIG_FILE, HYDRA_FILE

log = logging.getLogger("mnist_exp.resume")

# Overrides that change how a run reports, not what it computes.
ALLOWED_OVERRIDES = ("trainer.verbose",)
LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"


def load_run_config(run_dir: Path, overrides: list[str]):
    """The run's saved config with `overrides` applied, and its Hydra group choices.

    Raises:
        MnistExpError: for a directory that is not a run, or an override that would change
            the experiment.
    """
    if not (run_dir / CONFIG_FILE).is_file():
        raise MnistExpError(f"{run_dir} is not a run directory (no {CONFIG_FILE}).")
    cfg = OmegaConf.load(run_dir / CONFIG_FILE)
    for override in overrides:
        key, separator, value = override.partition("=")
        if not separator:
            raise MnistExpError(f"Override '{override}' is not KEY=VALUE.")
        if key not in ALLOWED_OVERRIDES:
            raise MnistExpError(
                f"Refusing '{override}' on a resume: it would change the experiment. "
                f"Allowed: {', '.join(ALLOWED_OVERRIDES)}. Start a new run to change it."
            )
        OmegaConf.update(cfg, key, yaml.safe_load(value))
    choices = {}
    if (run_dir / HYDRA_FILE).is_file():
        choices = OmegaConf.to_container(OmegaConf.load(run_dir / HYDRA_FILE).hydra.runtime.choices)
    return cfg, choices


def _log_to(run_dir: Path) -> None:
    formatter = logging.Formatter(LOG_FORMAT)
    for handler in (logging.StreamHandler(), logging.FileHandler(run_dir / "train.log")):
        handler.setFormatter(formatter)
        logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_exp.resume", description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("overrides", nargs="*", help=f"only {', '.join(ALLOWED_OVERRIDES)}")
    arguments = parser.parse_args(argv)
    run_dir = arguments.run_dir.resolve()
    if not run_dir.is_dir():
        print(f"resume: {run_dir} does not exist.", file=sys.stderr)
        return 2
    _log_to(run_dir)
    try:
        cfg, choices = load_run_config(run_dir, arguments.overrides)
        log.info("Resuming %s", run_dir)
        run_experiment(cfg, run_dir, choices=choices, resume=True)
    except MnistExpError as error:
        log.error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
