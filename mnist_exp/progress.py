"""A progress line for long commands (predict over folders, compare over many runs):
`predict: 2,560/10,000 images · 3,100 images/s · ETA 2 s`, redrawn in place on a terminal;
on files and pipes, a plain line every ~10% (or nothing), never control characters."""

from __future__ import annotations

import shutil
import sys
import time

EVERY_SECONDS = 0.1  # redraws at most ten times a second


class TerminalLine:
    """One line redrawn in place on a terminal (`\r`), cut to the terminal's width; each
    drawing blanks out what a longer one before it left."""

    def __init__(self, stream):
        self.stream = stream
        self.width = 0  # characters on the line now (0: nothing drawn)

    def draw(self, text: str) -> None:
        text = text[: shutil.get_terminal_size((100, 20)).columns - 1]
        self.stream.write("\r" + text + " " * max(0, self.width - len(text)))
        self.stream.flush()
        self.width = len(text)

    def clear(self) -> None:
        """Blanks the line, so what follows starts on a clean one."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0

    def keep(self) -> None:
        """Leaves the line standing; what follows starts on the next one."""
        if self.width:
            self.stream.write("\n")
            self.stream.flush()
            self.width = 0


class Progress:
    """Call it with the number of items done so far.

    Args:
        what: the line's prefix, e.g. the command's name.
        total: items in all.
        unit: what an item is, plural ("images", "runs").
        stream: where to draw (default: standard error).
        plain_lines: off a terminal, print a line every ~10% (False: print nothing there).
        keep: on a terminal, leave the last line standing (False: clear it, so the output
            that follows, such as a table, starts on a clean line).
    """

    def __init__(
        self,
        what: str,
        total: int,
        unit: str,
        stream=None,
        plain_lines: bool = True,
        keep: bool = True,
    ):
        self.what, self.total, self.unit = what, max(1, total), unit
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.plain_lines, self.keep = plain_lines, keep
        self.started = time.perf_counter()
        self._drawn_at = 0.0
        self._shown_tenths = -1
        self._line = TerminalLine(self.stream)

    def line(self, done: int) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        parts = [
            f"{self.what}: {done:,}/{self.total:,} {self.unit}",
            f"{done / elapsed:,.0f} {self.unit}/s",
        ]
        if 0 < done < self.total:
            parts.append(f"ETA {(self.total - done) * elapsed / done:.0f} s")
        return " · ".join(parts)

    def __call__(self, done: int) -> None:
        finished = done >= self.total
        if self.terminal:
            now = time.perf_counter()
            if finished or now - self._drawn_at >= EVERY_SECONDS:
                self._drawn_at = now
                self._line.draw(self.line(done))
                if finished and self.keep:
                    self._line.keep()
                elif finished:
                    self._line.clear()
        elif self.plain_lines and (finished or done * 10 // self.total > self._shown_tenths):
            self._shown_tenths = done * 10 // self.total
            print(self.line(done), file=self.stream, flush=True)
