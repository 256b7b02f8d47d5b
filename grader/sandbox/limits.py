"""What one submission may use: time (wall and CPU), memory, processes, output.

Wall-clock limits are enforced by the grader from outside (it kills the worker). The others are
kernel resource limits (rlimits) that the worker sets on itself, soft and hard, before any of
the student's code runs; a process cannot raise its own hard limits again. When the sandbox has
a cgroup (see cgroup.py), memory and processes are also capped for all its processes together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB
_UNITS = {"": 1, "K": 1024, "M": MiB, "G": GiB}
#: Address space a process may hold beyond the memory cap when a cgroup caps the memory itself.
ADDRESS_SPACE_SLACK = 2 * GiB


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
    #: Bytes of memory: of the whole sandbox when a cgroup caps it (see cgroup.py), else of address
    #: space per process, beyond what Python and torch map before the student's code runs (worker.py).
    memory: int = 2 * GiB
    #: Processes and threads the sandbox may hold at once (enforced under bubblewrap only).
    processes: int = 32
    #: Bytes the submission may write: the size of its scratch folder and of any one file.
    output: int = 64 * MiB

    def rlimits(self, *, memory_in_cgroup: bool = False) -> dict[str, int]:
        """The kernel limits the worker sets on itself (names of `resource.RLIMIT_*`).

        With `memory_in_cgroup`, a cgroup caps the real memory of the whole sandbox at `memory`;
        the address space of each process is then only a loose second line, `memory` plus
        `ADDRESS_SPACE_SLACK`, since reserved address space is not memory. The worker adds to "AS"
        what it maps already, Python and torch: 0.6 GiB with torch's CPU build, 3 GiB with its CUDA build.
        """
        return {
            "AS": int(self.memory) + (ADDRESS_SPACE_SLACK if memory_in_cgroup else 0),
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


def describe_size(size: int) -> str:
    """2147483648 -> '2 GiB', for people."""
    for unit in ("G", "M", "K"):
        if size >= _UNITS[unit]:
            return f"{round(size / _UNITS[unit], 1):g} {unit}iB"
    return f"{size} bytes"


def format_size(size: int) -> str:
    for unit in ("G", "M", "K"):
        if size >= _UNITS[unit] and size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return str(size)
