"""`mnist-exp-track RUNS... [--tracking-uri URI] [--experiment NAME]`
(`python -m mnist_exp.cli.track`): sends runs to an MLflow tracking server from their folders,
as `logger=mlflow` does while they train: for a run whose server was down, or one trained
without it. A run sent before continues its MLflow run (its id is in the folder's
mlflow.json), and only what the server lacks is added (epochs by their step).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mnist_exp.commands import shown
from mnist_exp.exits import DONE, PARTLY, REFUSED, run_stoppable
from mnist_exp.extras import require_for_command
from mnist_exp.runs.record import LOG_FORMAT

log = logging.getLogger("mnist_exp")


def _settings(config, arguments):
    """The logger settings a run is sent with: the command line's, else the run's own when it
    was tracked with MLflow, else MLflow's defaults."""
    from omegaconf import OmegaConf

    from mnist_exp.settings.logger import MlflowLogger

    saved = OmegaConf.to_container(config.get("logger") or {})
    tracked = saved.get("name") == "mlflow"
    return MlflowLogger(
        name="mlflow",
        tracking_uri=arguments.tracking_uri or (saved.get("tracking_uri") if tracked else None),
        experiment_name=arguments.experiment
        or (saved.get("experiment_name") if tracked else None)
        or "mnist_exp",
        tags=saved.get("tags", {}) if tracked else {},
    )


def main(argv=None) -> int:
    return run_stoppable(shown("track"), lambda: _track(argv))


def _track(argv) -> int:
    parser = argparse.ArgumentParser(prog=shown("track"), description=__doc__)
    parser.add_argument("paths", nargs="+", type=Path, help="runs, or folders of runs")
    parser.add_argument("--tracking-uri", help="default: the run's logger.tracking_uri, "
                        "else $MLFLOW_TRACKING_URI")  # fmt: skip
    parser.add_argument("--experiment", help="default: the run's, else mnist_exp")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    from mnist_exp.runs import record
    from mnist_exp.runs.flatten import flatten_config, with_group_choices
    from mnist_exp.runs.lock import RunLock
    from mnist_exp.runs.table import find_run_dirs

    runs = find_run_dirs(arguments.paths)
    if not runs:
        print(f"{shown('track')}: no runs under {' '.join(map(str, arguments.paths))}.",
              file=sys.stderr)  # fmt: skip
        return REFUSED
    require_for_command("mlflow", shown("track"))
    from mnist_exp.tracking.mlflow_run import send_run

    failed = 0
    for run_dir in runs:
        try:
            with RunLock(run_dir):  # it writes mlflow.json: never beside a run's own process
                config = record.read_config(run_dir)
                settings = _settings(config, arguments)
                params = with_group_choices(flatten_config(config), record.read_choices(run_dir))
                run_id = send_run(settings, run_dir, params)
            print(f"{run_dir}: MLflow run {run_id}", flush=True)
        except Exception as error:
            failed += 1
            print(f"{run_dir}: not sent: {type(error).__name__}: {error}", file=sys.stderr)
    return PARTLY if failed else DONE


if __name__ == "__main__":
    sys.exit(main())
