"""Ending a run on SIGTERM (what `kill` and schedulers send) or Ctrl-C: recorded as interrupted
and resumable.

The signal handler raises KeyboardInterrupt at once, but Python drops an exception raised while
it runs a finalizer (`__del__` of an h5py or TensorFlow object, a weakref callback): then
training would go on. So the handler also leaves a note (`mnist_exp.signals`), and the
StopWhenAsked callback (training/callbacks.py) raises again at the next step or epoch boundary.
Python would also print the dropped interrupt as "Exception ignored in ... Traceback"; that
report is kept quiet, as the note still stops the run. A note no run acted on (the interrupt
dropped after the run's last look at the note: the run completed) is kept, so that the next run
in this process, a sweep's next job, stops at its first step instead of the sweep going on.
While Keras's fit runs, where StopWhenAsked looks at the note after every step, and while the
model is built and scored, the handler only notes: raised at once, the interrupt mostly lands
in TensorFlow's C code, which prints it or turns it into another error. No TensorFlow here:
job.py imports it before config errors are reported.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

from mnist_exp import signals


@contextmanager
def checked_at_every_step():
    """While TensorFlow builds graphs or fits (where an exception raised inside its C code can
    come out as another error, or crash the process): a stop signal is only noted, and raised
    at the next step by StopWhenAsked, or after the block (`signals.raise_if_received`). The
    handler in place says which: inside `interrupt_on_signals` it is swapped for the block;
    elsewhere (a library caller's own handling, another thread) nothing changes."""
    ours = signal.getsignal(signal.SIGTERM) is signals.interrupt
    if not ours or threading.current_thread() is not threading.main_thread():
        yield
        return
    with signals.stop_signals_handled_by(signals.note_only):
        yield


@contextmanager
def interrupt_on_signals():
    """SIGTERM and SIGINT raise KeyboardInterrupt in the main thread, and are remembered for
    `StopWhenAsked` until a KeyboardInterrupt leaves the block. Only the main thread can take
    signals; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    report_unraisable = sys.unraisablehook
    sys.unraisablehook = signals.quiet_about_dropped_interrupts(report_unraisable)
    try:
        with signals.stop_signals_handled_by(signals.interrupt):
            yield
    except KeyboardInterrupt:
        signals.acted_on()  # the run stopped
        raise
    finally:
        sys.unraisablehook = report_unraisable
