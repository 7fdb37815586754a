"""A one-line progress bar on stderr for the command line.

Drawn only when stderr is a terminal (never into logs or pipes), only once the work has
run for a moment (short inputs print nothing), and at most a few times a second.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

#: Seconds of work before the bar appears.
DELAY = 0.5
#: Seconds between redraws.
INTERVAL = 0.1
WIDTH = 30


class Progress:
    """Counts units of work (samples, rows) towards an optional total.

    Use as a context manager; :meth:`advance` after each piece of work. The bar is
    erased on exit so the summary that follows starts on a clean line.

    Examples
    --------
    >>> import io
    >>> with Progress("profile", total=10, enabled=True, stream=io.StringIO()) as p:
    ...     p.advance(4)
    >>> p.done
    4
    """

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "samples",
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.done = 0
        self._start = time.monotonic()
        self._last = 0.0
        self._drawn = False

    @staticmethod
    def wanted(quiet: bool) -> bool:
        """Whether a bar may be drawn: stderr is a terminal and ``--quiet`` is off."""
        return not quiet and sys.stderr.isatty()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()

    def advance(self, n: int) -> None:
        """Record ``n`` more units done and redraw when due."""
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._start < DELAY or now - self._last < INTERVAL:
            return
        self._last = now
        self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self._start, 1e-9)
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * WIDTH)
            text = (
                f"{self.label} [{bar:<{WIDTH}}] {frac:4.0%} "
                f"{self.done:,}/{self.total:,} {self.unit}"
            )
        else:
            text = f"{self.label} {self.done:,} {self.unit}"
        self.stream.write(f"\r\x1b[2K{text}, {rate:,.0f} {self.unit}/s")
        self.stream.flush()
        self._drawn = True
