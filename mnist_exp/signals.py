"""Stop signals (Ctrl-C's SIGINT, and SIGTERM from `kill` and schedulers) handled for a while."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
