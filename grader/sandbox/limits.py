"""What one submission may use: time (wall and CPU), memory, processes, output.

Wall-clock limits are enforced by the grader from outside (it kills the worker). The others are
kernel resource limits (rlimits) that the worker sets on itself, soft and hard, before any of
the student's code runs; a process cannot raise its own hard limits again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB
_UNITS = {"": 1, "K": 1024, "M": MiB, "G": GiB}


@dataclass
class Limits:
    """Every cap of one submission; the CLI flags and `GradeConfig.limits` build one."""

    #: Wall-clock seconds: one cell, all the cells, one question's test cases, the whole submission.
    cell: float = 60.0
    load: float = 180.0
    question: float = 30.0
    submission: float = 600.0
    #: CPU seconds (all threads): one question's calls; everything one worker process runs.
    question_cpu: float = 60.0
    submission_cpu: float = 300.0
    #: Bytes of address space per process (torch itself needs about 0.8 GiB).
    memory: int = 2 * GiB
    #: Processes and threads the sandbox may hold at once (enforced under bubblewrap only).
    processes: int = 32
    #: Bytes the submission may write: the size of its scratch folder and of any one file.
    output: int = 64 * MiB

    def rlimits(self) -> dict[str, int]:
        """The kernel limits the worker sets on itself (names of `resource.RLIMIT_*`)."""
        return {
            "AS": int(self.memory),
            "NPROC": int(self.processes),
            "CPU": max(1, round(self.submission_cpu)),
            "FSIZE": int(self.output),
            "CORE": 0,
        }


def parse_size(text: str) -> int:
    """'2G', '512M', '64MiB', '1048576' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (use for example 2G, 512M or a number of bytes)")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.upper()])


def format_size(size: int) -> str:
    for unit in ("G", "M", "K"):
        if size >= _UNITS[unit] and size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return str(size)
