"""One control group (cgroup v1) per sandbox: memory and process caps on all its processes together.

rlimits cap each process on its own, so a fork bomb whose every child fills its own memory cap
could use memory times processes. When the grader runs as root and the cgroup v1 `memory` and
`pids` controllers are mounted writable, each sandbox gets a group of its own in both, under the
grader's own group (so whatever caps the grader also caps its sandboxes):
`<mount>/<grader's group>/quant-grader/<grader pid>-<n>/`, with `memory.limit_in_bytes` (and
`memory.memsw.limit_in_bytes`, when swap is accounted) = `Limits.memory` and `pids.max` =
`Limits.processes` + the sandbox's own few processes, and, where the `cpu` controller is mounted
too, `cpu.shares` (one equal weight per sandbox). The sandbox's first process joins the
group before it execs bwrap (`enter`), so everything the student's code starts is in it too.
`close` kills every process left in the group and removes it; groups of a grader that died
are removed by the next one (`sweep`).
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import time
from pathlib import Path

from grader.sandbox.limits import Limits


class CgroupsUnavailable(RuntimeError):
    """The cgroups a sandbox was set up with stopped working mid-run."""

MOUNT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids")
#: Used when mounted: a group per sandbox in `cpu` gives each sandbox one equal CPU weight, so a
#: submission spinning 30 threads takes its sandbox's share of the CPU, not 30 shares of it.
OPTIONAL_CONTROLLERS = ("cpu",)
CPU_SHARES = 1024
GROUP = "quant-grader"
#: Processes of bwrap itself (outer, its pid 1, inner), counted by `pids.max` but not by the
#: worker's own rlimit, which counts only the sandbox user's processes.
OVERHEAD_PROCESSES = 3
_counter = itertools.count()
#: `enter`'s wrapper: $1.. are the groups' `cgroup.procs` files, then the command to exec.
_ENTER = ('for procs in "$@"; do [ "$procs" = -- ] && break; echo $$ > "$procs" || exit 125; shift; done; '
          'shift; exec "$@"')


def _own_group(controller: str, mount: Path = MOUNT) -> Path | None:
    """The folder of this process's own group in `controller`'s hierarchy, if that is mounted here."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            folder = mount / controller / path.lstrip("/")
            return folder if (folder / "cgroup.procs").exists() else None
    return None


def _write(path: Path, value: int | str) -> None:
    path.write_text(f"{value}\n")


def _members(folder: Path) -> list[int]:
    try:
        return [int(line) for line in (folder / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _kill_members(folder: Path) -> None:
    """SIGKILL each process in the group; a pidfd pins the process, so a reused pid is never hit."""
    for pid in _members(folder):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            if pid in _members(folder):  # still this group's, now that the pidfd holds it
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(pidfd)


def _empty_and_remove(folder: Path, patience: float = 10.0) -> bool:
    """Kill until the group holds no process (a fork bomb may still be forking), then remove it."""
    deadline = time.monotonic() + patience
    for inner in [entry for entry in folder.iterdir() if entry.is_dir()] if folder.is_dir() else ():
        _empty_and_remove(inner, patience)  # a warm sandbox's children's groups
    while folder.exists():
        _kill_members(folder)
        try:
            folder.rmdir()
        except FileNotFoundError:
            return True
        except OSError:  # EBUSY while a killed process is still exiting
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
    return True


class Cgroup:
    """The groups of one sandbox, one per controller."""

    def __init__(self, bases: dict[str, Path], limits: Limits, *, processes: int | None = None):
        """`processes` caps `pids.max` (default: `Limits.processes` plus bwrap's own few processes)."""
        name = f"{os.getpid()}-{next(_counter)}"
        self.folders = {controller: base / name for controller, base in bases.items()}
        self.limits = limits
        try:
            for folder in self.folders.values():
                folder.mkdir(parents=True)
            memory = self.folders["memory"]
            _write(memory / "memory.limit_in_bytes", int(limits.memory))
            if (memory / "memory.memsw.limit_in_bytes").exists():  # memory + swap: no escape into swap
                _write(memory / "memory.memsw.limit_in_bytes", int(limits.memory))
            pids = int(limits.processes) + OVERHEAD_PROCESSES if processes is None else int(processes)
            _write(self.folders["pids"] / "pids.max", pids)
            if "cpu" in self.folders:
                _write(self.folders["cpu"] / "cpu.shares", CPU_SHARES)
        except OSError:
            self.close()
            raise

    def enter(self, argv: list[str]) -> list[str]:
        """`argv`, run by a shell that first moves itself into every group of this sandbox."""
        procs = [str(folder / "cgroup.procs") for folder in self.folders.values()]
        return ["/bin/sh", "-c", _ENTER, "quant-grader-enter", *procs, "--", *argv]

    def child(self, limits: Limits, *, processes: int | None = None) -> Cgroup:
        """A group inside this one (a warm sandbox's child), capped on its own. Only in the capping
        controllers: in `cpu` the child stays in its sandbox's group, whose one weight it shares."""
        return Cgroup({c: f for c, f in self.folders.items() if c in CONTROLLERS}, limits, processes=processes)

    def adopt(self, pid: int) -> None:
        """Move a running process into every group of this one (a warm child, before it runs student code)."""
        for folder in self.folders.values():
            _write(folder / "cgroup.procs", pid)

    @property
    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the sandbox because it reached the memory cap."""
        try:
            control = (self.folders["memory"] / "memory.oom_control").read_text()
        except OSError:
            return False
        counts = dict(line.split() for line in control.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", "0")) > 0

    def close(self) -> None:
        for folder in self.folders.values():
            _empty_and_remove(folder)


def _bases(mount: Path = MOUNT) -> dict[str, Path] | None:
    """Each controller's `quant-grader` folder under the grader's own group, or None if one is missing."""
    bases = {}
    for controller in CONTROLLERS:
        own = _own_group(controller, mount)
        if own is None:
            return None
        bases[controller] = own / GROUP
    for controller in OPTIONAL_CONTROLLERS:
        own = _own_group(controller, mount)
        if own is not None and os.access(own, os.W_OK):
            bases[controller] = own / GROUP
    return bases


def sweep(bases: dict[str, Path]) -> None:
    """Remove the groups of graders that are gone (killed before they could remove them)."""
    for base in bases.values():
        for folder in sorted(base.iterdir()) if base.is_dir() else ():
            owner = folder.name.split("-", 1)[0]
            if folder.is_dir() and owner.isdigit() and not Path(f"/proc/{owner}").exists():
                _empty_and_remove(folder)


@functools.lru_cache(maxsize=1)
def available() -> tuple[dict[str, Path] | None, str]:
    """(the folders new groups go in, "") when this grader can make capped groups; else (None, why)."""
    if os.geteuid() != 0:
        return None, "the grader is not root"
    bases = _bases()
    if bases is None:
        return None, f"the cgroup v1 controllers {' and '.join(CONTROLLERS)} are not mounted under {MOUNT}"
    try:
        sweep(bases)
        Cgroup(bases, Limits()).close()  # a trial group: created, capped and removed
    except OSError as error:
        return None, f"cannot create a capped cgroup ({error})"
    return bases, ""
