"""Where a batch's time goes, for run.json (never for results, which must stay byte-identical).

Phases of one submission: `load` (read the file, start its sandboxed worker, run its cells; the
rest of grading a submission that is neither judging nor diagnosing), `judge` (the questions' test
cases), `diagnose` (naming a failed question's mistake) and `report` (rendering and writing its
reports and result, on the report thread). `start` is the grader's own start-up, from the
process's start (its imports included) to the first submission, counted once per batch.

`phase(name)` adds the time spent in its block to the calling thread's current submission, if
one is being timed (`Stopwatch.submission`); elsewhere it costs nothing and records nothing.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

PHASES = ("start", "load", "judge", "diagnose", "report")

_current = threading.local()


@contextmanager
def submission():
    """Time one submission in this thread; yields the dict of its phases' seconds."""
    phases: dict[str, float] = {}
    previous = getattr(_current, "phases", None)
    _current.phases = phases
    try:
        yield phases
    finally:
        _current.phases = previous


@contextmanager
def phase(name: str):
    phases = getattr(_current, "phases", None)
    if phases is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        phases[name] = phases.get(name, 0.0) + time.perf_counter() - started


def process_age() -> float | None:
    """Seconds since this process started (Linux: /proc), or None where that is not known."""
    try:
        fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22, starttime, in clock ticks after boot
        with open("/proc/uptime") as uptime:
            return max(0.0, float(uptime.read().split()[0]) - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None
