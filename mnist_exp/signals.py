"""Stop signals (Ctrl-C's SIGINT, and SIGTERM from `kill` and schedulers): each one received is
noted for the process, then raised as KeyboardInterrupt.

The note is what makes a stop certain. Python drops an exception raised while it runs a
finalizer (`__del__`, a weakref callback), and a library may turn one into its own error (an
OmegaConf load into an AttributeError); so while a command starts, a signal is only noted and
raised at the next safe point, and during a run the note stays until the stop is acted on, so
the run's callback (training/stop.py) still stops at its next step."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: list[str] = []  # stop signals received and not yet acted on, in this process


def note(signum: int) -> str:
    """Notes the stop signal `signum`; returns its name."""
    name = signal.Signals(signum).name
    _received.append(name)
    return name


def received() -> str | None:
    """The last stop signal received and not yet acted on, if any."""
    return _received[-1] if _received else None


def acted_on() -> None:
    """Forgets the stop signals received: something has stopped for them."""
    _received.clear()


def interrupt(signum, frame):
    """A handler: notes the signal and raises KeyboardInterrupt."""
    note(signum)
    raise_if_received()


def quiet_about_dropped_interrupts(report: Callable) -> Callable:
    """A `sys.unraisablehook` that leaves out the interrupts Python dropped (raised in a
    finalizer) while a stop is noted, which the note still acts on, and hands the rest to
    `report`: otherwise Python prints each as "Exception ignored in ... Traceback"."""

    def hook(unraisable) -> None:
        if not (received() and isinstance(unraisable.exc_value, KeyboardInterrupt)):
            report(unraisable)

    return hook


def note_stops() -> None:
    """Installs a handler that only notes SIGINT and SIGTERM, for the rest of the process: a
    command's first step. Raised where nothing is half done (`raise_if_received`), a stop
    cannot land inside a library's import or config code and come out as another error; a
    run installs its own handling for its duration (training/stop.py)."""
    for stop in STOP_SIGNALS:
        signal.signal(stop, note_only)


def note_only(signum, frame) -> None:
    """A handler: notes the signal, for the code that runs to raise at a safe point."""
    note(signum)


def noted_interrupt() -> KeyboardInterrupt | None:
    """The KeyboardInterrupt that stands for the stop signal noted and not yet acted on."""
    return KeyboardInterrupt(f"signal {name}") if (name := received()) else None


def interrupt_behind(error: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt that `error` is, or stands for: any other error raised while a
    stop is noted (an interrupt raised inside TensorFlow's, Hydra's or OmegaConf's code can
    come out as their error); None for a failure."""
    if isinstance(error, KeyboardInterrupt):
        return error
    return noted_interrupt() if isinstance(error, Exception) else None


def raise_if_received() -> None:
    """Raises KeyboardInterrupt for a stop signal noted and not yet acted on."""
    if stop := noted_interrupt():
        raise stop


@contextmanager
def stop_signals_handled_by(handler: Callable) -> Iterator[None]:
    """Installs `handler(signum, frame)` for SIGINT and SIGTERM, and puts the previous
    handlers back when the block ends. Call it from the main thread (the only one Python
    lets install handlers)."""
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, earlier in previous.items():
            signal.signal(sig, earlier)
