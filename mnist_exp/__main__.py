"""`mnist-exp` (`python -m mnist_exp`), `mnist-exp-tune` and `mnist-exp-resume`: the commands
that start runs, started here so that a stop signal is answered from their first line, while
Python still imports them. Each command is its module in mnist_exp.cli."""

import importlib
import sys

from mnist_exp import signals


def main() -> int | None:
    return _start("mnist_exp.cli.train", "train")


def tune() -> int | None:
    return _start("mnist_exp.cli.tune", "tune")


def resume() -> int | None:
    return _start("mnist_exp.cli.resume", "resume")


def _start(module: str, name: str) -> int | None:
    """Runs `module`'s main() with Ctrl-C and SIGTERM noted from the first line
    (`signals.note_stops`) and raised at safe points: after the imports, after the config is
    checked, as the run or search starts (`run_job`, `run_search_job`). A stop before the run
    holds its folder ends the command with exit status 130 and one line, never a traceback
    or a death by signal; after, the run's own handling (training/stop.py) records it as
    interrupted and says how to continue. Either way the process then ends without Python's
    teardown (`exits.leave_without_teardown`)."""
    signals.note_stops()  # first: the imports take a while
    from mnist_exp.exits import INTERRUPTED, leave_without_teardown  # a stop is only noted now

    try:
        command = importlib.import_module(module)
        signals.raise_if_received()
        status = command.main()
    except KeyboardInterrupt as stop:  # only before a run: runs end with their own status
        from mnist_exp.commands import shown

        print(f"{shown(name)}: stopped ({stop}) before anything was written.", file=sys.stderr)
        status = INTERRUPTED
    if status == INTERRUPTED:  # a stopped run has recorded its end (see exits.end_hydra_job)
        leave_without_teardown(INTERRUPTED)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
