"""`mnist-exp-ensemble RUN_DIR RUN_DIR ...` (`python -m mnist_exp.cli.ensemble`): average the
softmax of finished runs' saved models on their common test set and report each model's and the
ensemble's accuracy. Writes ensemble.json into --output if given. The logic is in
mnist_exp.runs.ensemble.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mnist_exp import safe_files
from mnist_exp.commands import shown
from mnist_exp.errors import MnistExpError
from mnist_exp.exits import DONE, REFUSED, run_stoppable
from mnist_exp.quiet_start import quiet_tensorflow_start
from mnist_exp.runs.ensemble import ensemble_accuracy

log = logging.getLogger("mnist_exp.ensemble")


def main(argv=None) -> int:
    return run_stoppable(shown("ensemble"), lambda: _ensemble(argv))


def _ensemble(argv) -> int:
    quiet_tensorflow_start()
    parser = argparse.ArgumentParser(prog=shown("ensemble"), description=__doc__)
    parser.add_argument(
        "run_dirs", nargs="+", type=Path, help="finished runs of one dataset, to average"
    )
    parser.add_argument(
        "--output", type=Path, help="folder for ensemble.json (default: results only logged)"
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        result = ensemble_accuracy([run_dir.resolve() for run_dir in arguments.run_dirs])
    except MnistExpError as error:
        log.error("ensemble: %s", error)
        return REFUSED
    log.info(
        "ensemble of %d models: test accuracy %.4f (best single %.4f) on %d images; "
        "%s s of training in all",
        len(result["members"]),
        result["ensemble_test_accuracy"],
        max(member["test_accuracy"] for member in result["members"]),
        result["num_test"],
        result["total_train_seconds"],
    )
    if arguments.output:
        result.pop("probabilities")
        safe_files.write_json_atomically(arguments.output / "ensemble.json", result)
    return DONE


if __name__ == "__main__":
    sys.exit(main())
