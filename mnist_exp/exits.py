"""Exit statuses, the same for every command:

0    done
1    done, with something to look at (a failed parity check, unreadable images, no runs)
2    refused: bad input or a run that cannot go on, named in one message; nothing written
130  interrupted (Ctrl-C or SIGTERM); the message says how to continue
141  the reader of the output went away (`... | head`): stopped quietly
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

from mnist_exp import signals

DONE = 0
PARTLY = 1
REFUSED = 2
INTERRUPTED = 130
CLOSED_PIPE = 141  # as a shell reports a command its reader left: 128 + SIGPIPE


def reader_gone() -> int:
    """For a BrokenPipeError on standard output (`... | head`): the rest of the output, and
    Python's flush at exit, go to /dev/null, so nothing is printed about it; returns
    CLOSED_PIPE."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return CLOSED_PIPE


def exit_status(error: BaseException) -> int:
    """The status for a command ended by `error` (already reported in one message)."""
    return INTERRUPTED if isinstance(error, KeyboardInterrupt) else REFUSED


def end_hydra_job(error: BaseException, single_run: bool) -> None:
    """Exits without a traceback after a job has logged why it ended: always on Ctrl-C, and for
    a refused or failed single run. In a sweep a failed job returns to the launcher instead,
    which records it and runs the others. A single run leaves without Python's teardown: it
    has recorded how it ended, and tearing TensorFlow down after an interrupt landed in it
    can crash (SIGSEGV) or end the process by SIGINT instead of this status."""
    if single_run:
        leave_without_teardown(exit_status(error))
    if isinstance(error, KeyboardInterrupt):
        sys.exit(exit_status(error))


def run_app(app: Callable[[], object]) -> None:
    """Runs a Hydra app. A stop signal that reaches this far (one that lands while Hydra sets
    the job up or tears it down, outside the job's own handling) still ends the process with
    INTERRUPTED and no traceback."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED)


def leave_without_teardown(status: int = DONE) -> NoReturn:
    """Ends a command that has finished and closed everything it wrote, without Python's
    teardown: freeing TensorFlow's objects one by one takes about a second, an eighth of a
    whole fast run (benchmarks/whole_run), for nobody. Logs and the console are flushed
    first. Only for a process that starts nothing that outlives it and registers no exit
    handler that writes (a sweep's summary does: sweeps end the usual way)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def run_stoppable(command: str, main: Callable[[], int]) -> int:
    """Runs a command's `main` so that Ctrl-C and SIGTERM end it alike, with INTERRUPTED and
    one line, never a traceback or a death by signal:

        mnist-exp-export: stopped (signal SIGTERM); run it again to finish.

    The command's `finally` blocks run (export removes its unfinished folder); the files it
    wrote are whole, each written atomically. A stop that TensorFlow's C code turned into
    another error is that stop."""
    if threading.current_thread() is not threading.main_thread():  # only it takes signals
        return main()
    try:
        with signals.stop_signals_handled_by(signals.interrupt):
            return main()
    except BaseException as error:
        stop = signals.interrupt_behind(error)
        if stop is None:
            raise
        print(f"{command}: stopped ({stop or 'Ctrl-C'}); run it again to finish.", file=sys.stderr)
        leave_without_teardown(INTERRUPTED)  # TensorFlow torn down after an interrupt can crash
