"""The cgroup v2 path (cgroup2.py): the same caps as v1, for a cold sandbox and a warm one.

Run wherever the grader can make groups in a writable unified hierarchy with the `memory` and
`pids` controllers (root, or a delegated subtree): `make test-vm` runs them in a VM with cgroup v2
only (tests/vm/run_vm.py). Elsewhere they skip with the reason, except in CI (`CI=true`) on a
host with neither cgroup v1 nor v2: there a sandbox without caps fails them. Which sandbox the grader
picks by the hierarchies that work is checked on any host with bubblewrap.

Each test reads the kernel's own files (memory.max, pids.max, cgroup.procs, /proc) to see what the
grader set up, and the student's verdict for what it cost them.
"""

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ci import in_ci
from grader.labs import SUPPORT
from grader.sandbox import bubblewrap, cgroup, cgroup2
from grader.sandbox.limits import Limits, MiB
from grader.sandbox.pool import SandboxPool
from grader.sandbox.session import WorkerLost, WorkerSession

BASE, PROBLEM = cgroup2.available()
NEITHER = BASE is None and cgroup.available()[0] is None


def _sandbox():
    if BASE is None:
        if in_ci() and NEITHER:
            pytest.fail(f"CI needs cgroups (v1 or v2) to cap the sandbox, and this host has neither: "
                        f"v1: {cgroup.available()[1]}; v2: {PROBLEM}")
        pytest.skip(f"no writable cgroup v2 hierarchy with memory and pids here: {PROBLEM}")
    sandbox = bubblewrap.available()[0]
    assert sandbox is not None
    if not sandbox.cgroup2:  # v1 works here too, and the grader prefers it: the v2 path all the same
        sandbox = dataclasses.replace(sandbox, name="bubblewrap+cgroup2", cgroups=True, cgroup2=True)
    return sandbox


def _read(folder: Path, name: str) -> str:
    return (folder / name).read_text().strip()


def _alive(pid: int) -> bool:
    """Whether `pid` is still a process (a zombie waiting for its parent is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_gone(pids, seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if _alive(pid)]


HOG = "def hog():\n    hoard = b'x' * (900 * 1024 * 1024)\n    return len(hoard)\ndef ok():\n    return 'ok'"
BOMB = """
import os, time
def bomb():
    children = []
    try:
        while len(children) < 1000:
            pid = os.fork()
            if pid == 0:
                time.sleep(600)
                os._exit(0)
            children.append(pid)
    except OSError as error:
        return len(children), error.errno
    return len(children), 0
def ok():
    return "ok"
"""


def test_the_graders_own_group_holds_no_process_so_it_can_hand_controllers_down():
    """Below the root, a cgroup v2 group with processes cannot give its subgroups controllers: the
    grader's own group (where the grader was started: a session's scope, a service, a container's
    group; `make test-vm` starts it in one) had its processes moved into a leaf."""
    _sandbox()
    own = BASE.parent
    mine = Path("/proc/self/cgroup").read_text().split("0::", 1)[1].splitlines()[0]
    if own == cgroup2.mount_point():  # the root may hold processes and hand controllers down all the same
        assert mine == "/"
    else:
        assert _read(own, "cgroup.procs") == ""
        assert cgroup2.mount_point() / mine.lstrip("/") == own / cgroup2.OWN_LEAF
    assert {"memory", "pids"} <= set(_read(own, "cgroup.subtree_control").split())


def test_a_cold_sandbox_gets_a_capped_v2_group_that_is_removed():
    sandbox = _sandbox()
    cells = [{"index": 1, "source": textwrap.dedent(HOG)}]
    with WorkerSession(cells, support=[SUPPORT], limits=Limits(memory=512 * MiB), isolation=sandbox) as session:
        session.start()
        folder = session.cgroup.folder
        assert folder.parent == BASE  # the group is made where cgroup2.available found it can make groups
        assert int(_read(folder, "memory.max")) == 512 * MiB
        assert int(_read(folder, "pids.max")) == Limits().processes + cgroup.OVERHEAD_PROCESSES
        # The shell that joined the group, then became bwrap (exec keeps its pid), and all it started.
        assert str(session.process.pid) in _read(folder / "main", "cgroup.procs").split()
        group, events = session.cgroup, {}
        close = group.close  # read the kernel's own count before the lost worker's group is removed
        group.close = lambda: (events.update(line.split() for line in _read(folder, "memory.events").splitlines()),
                               close())
        with pytest.raises(WorkerLost) as lost:
            session.call("hog", (), {}, timeout=60)
        assert "used more than the 512 MiB memory cap" in lost.value.reason
        assert int(events["oom_kill"]) >= 1  # the cap killed it, not some other death
    assert not folder.exists()


def test_a_warm_child_gets_a_capped_v2_group_inside_its_sandboxs():
    sandbox = _sandbox()
    cells = [{"index": 1, "source": HOG}]
    with SandboxPool(sandbox, Limits(memory=512 * MiB), [SUPPORT]) as pool:
        with WorkerSession(cells, support=[SUPPORT], limits=Limits(memory=512 * MiB), pool=pool) as session:
            session.start()
            child, whole = session.cgroup.folder, session.sandbox.cgroup.folder
            assert child.parent == whole and int(_read(child, "memory.max")) == 512 * MiB
            assert int(_read(child, "pids.max")) == Limits().processes
            assert str(session.process.pid) in _read(child / "main", "cgroup.procs").split()
            zygote = _read(whole / "main", "cgroup.procs").split()
            assert zygote and str(session.process.pid) not in zygote  # the zygote stays in its sandbox's leaf
            with pytest.raises(WorkerLost) as lost:
                session.call("hog", (), {}, timeout=60)
            assert "memory cap" in lost.value.reason
            assert not child.exists()  # the dead child's group went with it
            session.start()
            second = session.cgroup.folder
            assert second != child and second.parent == whole
            assert session.call("ok", (), {}, timeout=10) == "ok"
        assert not second.exists() and whole.exists()  # the sandbox stays warm for the next submission
    assert not whole.exists()


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_a_fork_bomb_stops_at_the_process_cap_and_leaves_nothing(warm):
    sandbox = _sandbox()
    cells = [{"index": 1, "source": textwrap.dedent(BOMB)}]
    limits = Limits(processes=24)
    pool = SandboxPool(sandbox, limits, [SUPPORT]) if warm else None
    try:
        with WorkerSession(cells, support=[SUPPORT], limits=limits, isolation=sandbox, pool=pool) as session:
            session.start()
            folder = session.cgroup.folder
            cap = int(_read(folder, "pids.max"))
            assert cap == limits.processes + (0 if warm else cgroup.OVERHEAD_PROCESSES)
            forked, errno = session.call("bomb", (), {}, timeout=60)
            assert 0 < forked < limits.processes and errno == 11  # EAGAIN: refused, the worker carries on
            assert int(_read(folder, "pids.current")) <= cap
            tasks = [pid for procs in folder.rglob("cgroup.procs") for pid in procs.read_text().split()]
            assert len(tasks) >= forked  # the sleeping children are in the group, seen from outside
            assert session.call("ok", (), {}, timeout=10) == "ok"
        assert not folder.exists()
        assert _wait_gone([int(pid) for pid in tasks]) == []
    finally:
        if pool is not None:
            pool.close()


def _swap_on() -> bool:
    return len(Path("/proc/swaps").read_text().splitlines()) > 1


def test_swap_is_no_way_past_the_memory_cap():
    """memory.swap.max = 0: with swap on, a hog past memory.max is killed, not swapped out. The same hog
    in a group of this test's own with memory.max alone survives, swapping, so swap really is there."""
    sandbox = _sandbox()
    if not _swap_on():
        pytest.skip("no swap is on here, so there is nothing for memory.swap.max to keep a sandbox from")
    control = BASE / f"{os.getpid()}-swap-control"  # named as the grader names its groups: swept if left
    control.mkdir()
    try:
        (control / "memory.max").write_text(str(512 * MiB))
        hog = "hoard = b'x' * (900 * 1024 * 1024); print(len(hoard))"
        done = subprocess.run(["/bin/sh", "-c", f'echo $$ > {control}/cgroup.procs && exec "$@"', "sh",
                               sys.executable, "-c", hog], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and done.stdout.strip() == str(900 * MiB), done.stderr
        swapped = dict(line.split() for line in _read(control, "memory.events").splitlines())
        assert swapped["oom_kill"] == "0"
    finally:
        control.rmdir()
    cells = [{"index": 1, "source": HOG}]
    with WorkerSession(cells, support=[SUPPORT], limits=Limits(memory=512 * MiB), isolation=sandbox) as session:
        session.start()
        assert _read(session.cgroup.folder, "memory.swap.max") == "0"
        with pytest.raises(WorkerLost) as lost:
            session.call("hog", (), {}, timeout=120)
        assert "used more than the 512 MiB memory cap" in lost.value.reason


#: A grader that makes a sandbox group, starts a process in it, then dies without removing it.
DYING_GRADER = """
import os, subprocess, sys
from grader.sandbox import cgroup2
from grader.sandbox.limits import Limits
base, problem = cgroup2.available()
group = cgroup2.Cgroup2(base, Limits())
subprocess.Popen(group.enter(["sleep", "600"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while not (group.folder / "main" / "cgroup.procs").read_text().split():
    pass
print(group.folder, flush=True)
os.kill(os.getpid(), 9)
"""


def test_the_groups_of_a_grader_that_died_are_removed_by_the_next_one():
    sandbox = _sandbox()
    dead = subprocess.run([sys.executable, "-c", DYING_GRADER], capture_output=True, text=True, timeout=120)
    assert dead.returncode == -signal.SIGKILL, dead.stderr
    stale = Path(dead.stdout.strip())
    assert stale.parent == BASE and stale.is_dir()
    sleeper = [int(pid) for pid in _read(stale / "main", "cgroup.procs").split()]
    assert sleeper and all(_alive(pid) for pid in sleeper)
    with WorkerSession([{"index": 1, "source": "x = 1"}], support=[SUPPORT], limits=Limits(),
                       isolation=sandbox) as live:
        live.start()  # a group of a grader that is alive (this one): never swept
        assert cgroup2.available.__wrapped__() == (BASE, "")  # the next grader's start sweeps
        assert live.cgroup.folder.exists()
        assert not stale.exists()
        assert _wait_gone(sleeper) == []


#: Which sandbox the grader picks (bubblewrap.available), by whether root can make capped groups in
#: (cgroup v1, cgroup v2) -> (the name results record, cgroups, cgroup2). Written from the docstring of
#: grader/sandbox/bubblewrap.py: v1 where it works, v2 otherwise, else per-process rlimits only.
CHOICES = {
    (True, True): ("bubblewrap+cgroup", True, False),
    (True, False): ("bubblewrap+cgroup", True, False),
    (False, True): ("bubblewrap+cgroup2", True, True),
    (False, False): ("bubblewrap", False, False),
}


@pytest.mark.parametrize(("v1", "v2"), list(CHOICES), ids=[f"v1={v1}-v2={v2}" for v1, v2 in CHOICES])
def test_the_sandbox_is_chosen_by_the_cgroup_hierarchies_that_work(v1, v2, monkeypatch, tmp_path):
    """Any host with bubblewrap: the choice is made again with each answer of the two probes."""
    if bubblewrap.available()[0] is None:
        if in_ci():
            pytest.fail(f"CI must have the sandbox: {bubblewrap.available()[1]}")
        pytest.skip(f"no sandbox here: {bubblewrap.available()[1]}")
    monkeypatch.setattr(cgroup, "available", lambda: ({"memory": tmp_path} if v1 else None, "" if v1 else "no v1"))
    monkeypatch.setattr(cgroup2, "available", lambda: (tmp_path if v2 else None, "" if v2 else "no v2"))
    sandbox, problem = bubblewrap.available.__wrapped__()
    assert problem == "" and (sandbox.name, sandbox.cgroups, sandbox.cgroup2) == CHOICES[v1, v2]


def test_on_a_v2_host_the_grader_picks_the_sandbox_the_table_says():
    """On this host, with its real probes: v2 works here; v1 wins where it works too. On a v2-only host
    (`make test-vm`) that is `bubblewrap+cgroup2`, the name every result then records."""
    _sandbox()
    chosen = bubblewrap.available()[0]
    assert (chosen.name, chosen.cgroups, chosen.cgroup2) == CHOICES[cgroup.available()[0] is not None, True]
