"""`python -m mnist_exp.tune [tuner=...] [search=...] [overrides]`: a Keras Tuner search
(`resume=DIR` continues a killed one). The logic is in mnist_exp.tuning."""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mnist_exp.errors import MnistExpError
from mnist_exp.tuning.overrides import TUNING_ROOTS
from mnist_exp.tuning.search import run_search

CONFIG_NAME = "tune"


def compose_training(overrides: list[str]) -> tuple[DictConfig, dict]:
    """The training config (tuning sections dropped) and group choices for `overrides`."""
    cfg = hydra.compose(config_name=CONFIG_NAME, overrides=overrides, return_hydra_config=True)
    choices = {
        group: choice
        for group, choice in OmegaConf.to_container(cfg.hydra.runtime.choices).items()
        if not group.startswith("hydra") and group not in TUNING_ROOTS
    }
    training = {key: cfg[key] for key in cfg if key not in TUNING_ROOTS}
    return OmegaConf.create(
        OmegaConf.to_container(OmegaConf.create(training), resolve=True)
    ), choices


@hydra.main(version_base="1.3", config_path="../conf", config_name=CONFIG_NAME)
def main(cfg: DictConfig) -> float | None:
    hydra_config = HydraConfig.get()
    try:
        summary = run_search(
            cfg,
            Path(hydra_config.runtime.output_dir),
            list(hydra_config.overrides.task),
            compose=compose_training,
        )
    except MnistExpError as error:
        if hydra_config.mode == RunMode.RUN:
            import logging

            logging.getLogger("mnist_exp.tune").error("%s", error)
            sys.exit(2)
        raise
    return summary.get("best_score")


def resume_arguments(search_dir: str, others: list[str]) -> list[str]:
    """The command line that continues the search in `search_dir`: its saved overrides."""
    saved = Path(search_dir) / ".hydra" / "overrides.yaml"
    if not saved.is_file():
        raise MnistExpError(f"{search_dir} is not a search directory (no {saved.name} in .hydra).")
    overrides = [
        override
        for override in OmegaConf.to_container(OmegaConf.load(saved))
        if not override.startswith(("hydra.run.dir=", "tuning.resume="))
    ]
    return [*overrides, *others, f"hydra.run.dir={search_dir}", "tuning.resume=true"]


if __name__ == "__main__":
    arguments = sys.argv[1:]
    resume_dir = next((a.split("=", 1)[1] for a in arguments if a.startswith("resume=")), None)
    if resume_dir:
        try:
            others = [a for a in arguments if not a.startswith("resume=")]
            sys.argv = [sys.argv[0], *resume_arguments(resume_dir, others)]
        except MnistExpError as error:
            print(f"mnist_exp.tune: {error}", file=sys.stderr)
            sys.exit(2)
    main()
