"""A Hydra callback that declares a multirun's swept values to TensorBoard's HParams plugin."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mnist_exp.reporting.tensorboard_names import SWEEP_HPARAMS_DIR, write_swept_keys

log = logging.getLogger(__name__)


def _sweeps(overrides: list[str]) -> list:
    """The parsed overrides that sweep a key of the app (not of Hydra itself)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    return [o for o in parsed if o.is_sweep_override() and not o.is_hydra_override()]


def swept_values(overrides: list[str]) -> dict[str, list]:
    """{key: [values]} for each sweep override, e.g. model=mlp,cnn -> {"model": ["mlp", "cnn"]}.
    Sweeps that cannot be listed (intervals, for sweeper plugins such as Optuna) are left out."""
    return {
        override.get_key_element(): list(override.sweep_iterator())
        for override in _sweeps(overrides)
        if override.is_discrete_sweep()
    }


def swept_keys(overrides: list[str]) -> list[str]:
    """The keys a sweep varies, listed or not (intervals too)."""
    return [override.key_or_group for override in _sweeps(overrides)]


class SweepDomains(Callback):
    """On multirun start, notes the swept keys (jobs are named by them) and writes an HParams
    config with the swept domains in the sweep's `sweep-hparams/` (a run named for what it
    holds, where the sweep root was an empty `.`)."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        overrides = list(config.hydra.overrides.task)
        sweep_dir = Path(config.hydra.sweep.dir)
        write_swept_keys(sweep_dir, swept_keys(overrides))  # what the jobs' names show
        domains = swept_values(overrides)
        if not domains:
            return
        from mnist_exp.reporting.tensorboard import write_sweep_domains

        write_sweep_domains(sweep_dir / SWEEP_HPARAMS_DIR, domains)
        log.info(
            "Sweeping %s", ", ".join(f"{key} over {values}" for key, values in domains.items())
        )
