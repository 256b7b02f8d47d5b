"""What `grade` shows while a batch runs, on stderr.

On a terminal: a tqdm progress bar (done / total, rate, elapsed and ETA). Off a terminal (a log
file, CI, a pipe): one line per submission as its result is written, e.g.
`[3/40] alice: 15 / 15 (graded)`, so a log shows every submission once, in the order they finish.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TextIO

from tqdm import tqdm

from grader.results import SubmissionResult

__all__ = ["Progress"]


class Progress:
    """Progress of one batch; `bar` None chooses by whether `stream` is a terminal."""

    def __init__(self, description: str = "", stream: TextIO | None = None, bar: bool | None = None):
        self.description = description
        self.stream = stream if stream is not None else sys.stderr
        self.bar = _is_terminal(self.stream) if bar is None else bar
        self.total = 0
        self.finished = 0
        self._tqdm: tqdm | None = None
        self._lock = threading.Lock()

    def start(self, total: int) -> None:
        self.total, self.finished = total, 0
        if self.bar:
            # A terminal that reports no size (a bare pseudo-terminal) gets 80x24, not a hidden bar.
            size = {} if _width(self.stream) > 0 else {"ncols": 80, "nrows": 24}
            self._tqdm = tqdm(total=total, desc=self.description or None, unit="submission", file=self.stream,
                              dynamic_ncols=not size, smoothing=0.1, **size)

    def done(self, result: SubmissionResult, reused: bool = False) -> None:
        """One more submission has its result (graded now, or `reused` from an earlier run)."""
        with self._lock:
            self.finished += 1
            if self._tqdm is not None:
                self._tqdm.update(1)
                return
            how = ", already graded" if reused else ""
            print(f"[{self.finished}/{self.total}] {_printable(result.student)}: {result.score_shown} / "
                  f"{result.max_score:g} ({result.status}{how})", file=self.stream, flush=True)

    def close(self) -> None:
        with self._lock:
            if self._tqdm is not None:
                self._tqdm.close()
                self._tqdm = None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0


def _printable(text: str) -> str:
    # A student id is a file name: keep control characters out of the log.
    return "".join(c if c.isprintable() else "?" for c in text)
