"""A one-line progress bar on stderr for the command line.

Drawn only when stderr is a terminal (never into logs or pipes), only once the work has
run for a moment (short inputs print nothing), and at most a few times a second.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

#: Seconds of work before the bar appears.
DELAY = 0.5
#: Seconds between redraws.
INTERVAL = 0.1
WIDTH = 30


class Progress:
    """Counts units of work (samples, rows, bytes) towards an optional total.

    Use as a context manager; :meth:`advance` after each piece of work. The bar is
    erased on exit so the summary that follows starts on a clean line.

    ``scale`` divides the amounts shown (``unit="MB", scale=1e6`` for a count of bytes);
    ``counted`` names a second count shown beside the amount (``"records"``: raised by
    ``advance(..., count=)``); ``bases=True`` also shows the bases counted by
    ``advance(..., bases=)`` (in Mbp). With ``poll``, a background thread reads the work done
    from ``poll()`` and redraws on its own, so the bar moves while the caller waits in
    native code with the GIL released (reading one long FASTA record).

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
        scale: float = 1,
        counted: str | None = None,
        bases: bool = False,
        poll: Callable[[], int] | None = None,
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.label, self.total, self.unit, self.scale = label, total, unit, scale
        self.counted, self.poll = counted, poll
        self.show_bases = bases
        self.bases = 0
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.done = 0
        self.count = 0
        self._start = time.monotonic()
        self._last = 0.0
        self._drawn = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def wanted(quiet: bool) -> bool:
        """Whether a bar may be drawn: stderr is a terminal and ``--quiet`` is off."""
        return not quiet and sys.stderr.isatty()

    def __enter__(self) -> Progress:
        if self.poll is not None and self.enabled:
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()

    def advance(self, n: int, *, count: int = 0, bases: int = 0) -> None:
        """Record ``n`` more units (and ``count`` more of ``counted``, ``bases`` more bases)
        done and redraw when due (with ``poll``, the watching thread draws)."""
        self.done += n
        self.count += count
        self.bases += bases
        if not self.enabled or self._thread is not None:
            return
        now = time.monotonic()
        if now - self._start < DELAY or now - self._last < INTERVAL:
            return
        self._last = now
        self._draw(now)

    def _watch(self) -> None:
        assert self.poll is not None
        while not self._stop.wait(INTERVAL):
            self.done = self.poll()
            now = time.monotonic()
            if now - self._start >= DELAY:
                self._draw(now)

    def _amount(self, n: float) -> str:
        return f"{n:,.0f}" if self.scale == 1 else f"{n / self.scale:,.1f}"

    def _draw(self, now: float) -> None:
        rate = self._amount(self.done / max(now - self._start, 1e-9))
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * WIDTH)
            text = (
                f"{self.label} [{bar:<{WIDTH}}] {frac:4.0%} "
                f"{self._amount(self.done)}/{self._amount(self.total)} {self.unit}"
            )
        else:
            text = f"{self.label} {self._amount(self.done)} {self.unit}"
        if self.show_bases:
            text += f", {self.bases / 1e6:,.1f} Mbp"
        if self.counted is not None:
            text += f", {self.count:,} {self.counted}"
        self.stream.write(f"\r\x1b[2K{text}, {rate} {self.unit}/s")
        self.stream.flush()
        self._drawn = True
