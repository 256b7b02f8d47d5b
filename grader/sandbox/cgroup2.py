"""The same caps as cgroup.py on a cgroup v2 (unified) host: one group per sandbox, one per warm child.

Where the v1 `memory` and `pids` controllers are not mounted (most hosts today run v2 only),
the grader makes its groups in the unified hierarchy instead, under its own group:
`<own>/quant-grader/<grader pid>-<n>/`. That needs root, or a delegated subtree (systemd's
`Delegate=yes`) whose `cgroup.subtree_control` the grader may write, with `memory` and `pids`
(and `cpu`, used when there) available. Each group gets `memory.max` = `Limits.memory` (and
`memory.swap.max` = 0: no escape into swap), `pids.max`, `cpu.weight` (one equal weight per
sandbox) and is emptied with `cgroup.kill`.

cgroup v2 lets no group with controllers for its children hold processes itself, so each group
keeps its processes in a leaf, `main/`, and a warm sandbox's children are its other subgroups.
The same rule holds for the grader's own group, unless it is the root: on a real host that group
holds processes (a login session's scope, a service, a container's own group, where the grader
itself is), so before handing controllers down the grader moves them, itself included, into a leaf
of that group, `quant-grader-processes/`. They stay inside it, under the same caps; a grader that
starts later in that leaf makes its groups beside it, in the same `quant-grader/`.
Results record `bubblewrap+cgroup2`.
"""

from __future__ import annotations

import errno
import functools
import itertools
import os
import time
from pathlib import Path

from grader.sandbox.cgroup import _ENTER, GROUP, OVERHEAD_PROCESSES, _write
from grader.sandbox.limits import Limits

CONTROLLERS = ("memory", "pids")
OPTIONAL_CONTROLLERS = ("cpu",)
CPU_WEIGHT = 100
LEAF = "main"
#: Where the processes of the grader's own group go, so that the group may hand controllers down.
OWN_LEAF = "quant-grader-processes"
_counter = itertools.count()


def mount_point() -> Path | None:
    """Where the unified hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts)."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            return Path(fields[1])
    return None


def own_group(mount: Path) -> Path | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    path = next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), None)
    return None if path is None else mount / path.lstrip("/")


def _controllers(folder: Path, kind: str = "cgroup.controllers") -> set[str]:
    try:
        return set((folder / kind).read_text().split())
    except OSError:
        return set()


def _enable(folder: Path, controllers: set[str]) -> None:
    """Let `folder`'s subgroups use `controllers` (cgroup v2 hands controllers down level by level)."""
    missing = controllers - _controllers(folder, "cgroup.subtree_control")
    if missing:
        _write(folder / "cgroup.subtree_control", " ".join(f"+{name}" for name in sorted(missing)))


def _members(folder: Path) -> list[str]:
    try:
        return (folder / "cgroup.procs").read_text().split()
    except OSError:
        return []


def _enable_in_own(own: Path, controllers: set[str]) -> None:
    """`_enable` for the grader's own group: first move the processes it holds (the grader's and any
    other's) into a leaf of it, since a group that holds processes may not hand controllers down."""
    try:
        _enable(own, controllers)
        return
    except OSError as error:
        if error.errno != errno.EBUSY:
            raise
    leaf = own / OWN_LEAF
    leaf.mkdir(exist_ok=True)
    for _ in range(100):  # a process may fork while the others move
        members = _members(own)
        if not members:
            break
        for pid in members:
            try:
                _write(leaf / "cgroup.procs", pid)
            except ProcessLookupError:  # gone meanwhile
                pass
    _enable(own, controllers)


def _remove(folder: Path, patience: float = 10.0) -> bool:
    """Kill everything in the group and its subgroups (`cgroup.kill`), then remove them, deepest first."""
    if not folder.is_dir():
        return True
    for inner in [entry for entry in folder.iterdir() if entry.is_dir()]:
        _remove(inner, patience)
    deadline = time.monotonic() + patience
    while True:
        try:
            _write(folder / "cgroup.kill", 1)
        except OSError:
            pass
        try:
            folder.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:  # EBUSY while a killed process is still exiting
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


class Cgroup2:
    """One sandbox's (or warm child's) group in the unified hierarchy; the interface of cgroup.Cgroup."""

    def __init__(self, base: Path, limits: Limits, *, processes: int | None = None):
        self.folder = base / f"{os.getpid()}-{next(_counter)}"
        self.folders = {"unified": self.folder}
        self.limits = limits
        try:
            self.folder.mkdir(parents=True)
            available = _controllers(self.folder)
            _write(self.folder / "memory.max", int(limits.memory))
            if (self.folder / "memory.swap.max").exists():
                _write(self.folder / "memory.swap.max", 0)
            pids = int(limits.processes) + OVERHEAD_PROCESSES if processes is None else int(processes)
            _write(self.folder / "pids.max", pids)
            if "cpu" in available:
                _write(self.folder / "cpu.weight", CPU_WEIGHT)
            _enable(self.folder, available & {*CONTROLLERS, *OPTIONAL_CONTROLLERS})
            (self.folder / LEAF).mkdir()
        except OSError:
            self.close()
            raise

    def child(self, limits: Limits, *, processes: int | None = None) -> Cgroup2:
        """A group inside this one (a warm sandbox's child), capped on its own."""
        return Cgroup2(self.folder, limits, processes=processes)

    def enter(self, argv: list[str]) -> list[str]:
        return ["/bin/sh", "-c", _ENTER, "quant-grader-enter", str(self.folder / LEAF / "cgroup.procs"), "--", *argv]

    def adopt(self, pid: int) -> None:
        _write(self.folder / LEAF / "cgroup.procs", pid)

    @property
    def out_of_memory(self) -> bool:
        try:
            events = (self.folder / "memory.events").read_text()
        except OSError:
            return False
        counts = dict(line.split() for line in events.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", "0")) > 0

    def close(self) -> None:
        _remove(self.folder)


def sweep(base: Path) -> None:
    """Remove the groups of graders that are gone."""
    for folder in sorted(base.iterdir()) if base.is_dir() else ():
        owner = folder.name.split("-", 1)[0]
        if folder.is_dir() and owner.isdigit() and not Path(f"/proc/{owner}").exists():
            _remove(folder)


@functools.lru_cache(maxsize=1)
def available() -> tuple[Path | None, str]:
    """(the folder new groups go in, "") when this grader can make capped v2 groups; else (None, why)."""
    mount = mount_point()
    if mount is None:
        return None, "no cgroup v2 hierarchy is mounted"
    own = own_group(mount)
    if own is None or not (own / "cgroup.procs").exists():
        return None, f"the grader's own cgroup v2 group is not visible under {mount}"
    if own.name == OWN_LEAF:  # a grader before this one moved this process here (`_enable_in_own`)
        own = own.parent
    missing = set(CONTROLLERS) - _controllers(own)
    if missing:
        return None, (f"the cgroup v2 controllers {' and '.join(sorted(missing))} are not available in "
                      f"{own} (on a hybrid host they belong to cgroup v1)")
    base = own / GROUP
    try:
        _enable_in_own(own, (set(CONTROLLERS) | set(OPTIONAL_CONTROLLERS)) & _controllers(own))
        base.mkdir(exist_ok=True)
        _enable(base, (set(CONTROLLERS) | set(OPTIONAL_CONTROLLERS)) & _controllers(base))
        sweep(base)
        Cgroup2(base, Limits()).close()  # a trial group: created, capped and removed
    except OSError as error:
        return None, (f"cannot create a capped cgroup v2 group under {own} ({error}); run as root, "
                      "or in a delegated subtree")
    return base, ""
