"""`mnist-exp-resume RUN_DIR [overrides]` (`python -m mnist_exp.cli.resume`), as `mnist-exp
resume=RUN_DIR`: continue a
killed, interrupted or failed run in its own directory, with its saved config, from its last
backup. The result matches an uninterrupted run (exactly with trainer.deterministic=true).
"""

from __future__ import annotations

if __name__ == "__main__":  # started as the console script is: a stop is noted from here on
    from mnist_exp.__main__ import resume

    raise SystemExit(resume())

import argparse
import logging
from pathlib import Path

from omegaconf import OmegaConf

from mnist_exp.commands import shown
from mnist_exp.errors import MnistExpError, os_error_text
from mnist_exp.exits import DONE, REFUSED, exit_status
from mnist_exp.quiet_start import quiet_tensorflow_start
from mnist_exp.runs.record import LOG_FORMAT
from mnist_exp.training.job import ALLOWED_RESUME_OVERRIDES, RESUME_KEY, Job, run_job


def main(argv=None) -> int:
    quiet_tensorflow_start()
    parser = argparse.ArgumentParser(prog=shown("resume"), description=__doc__)
    parser.add_argument("run_dir", type=Path, help="the run directory to continue")
    parser.add_argument(
        "overrides",
        nargs="*",
        help=f"KEY=VALUE; only {', '.join(ALLOWED_RESUME_OVERRIDES)} (default: none)",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    run_dir = arguments.run_dir.resolve()
    job = Job(output_dir=run_dir, overrides=tuple(arguments.overrides))
    try:
        run_job(OmegaConf.create({RESUME_KEY: str(run_dir)}), job)
    except (MnistExpError, KeyboardInterrupt) as error:  # run_job logged why
        return exit_status(error)
    except OSError as error:
        logging.getLogger("mnist_exp").error("%s", os_error_text(error))
        return REFUSED
    return DONE
