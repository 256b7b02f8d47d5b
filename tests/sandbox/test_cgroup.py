"""The sandbox's cgroup: memory and processes capped for the whole sandbox, nothing left behind."""

import os
import subprocess
import sys
import textwrap

import pytest

from ci import in_ci
from grader.labs import SUPPORT
from grader.sandbox import bubblewrap, cgroup, cgroup2
from grader.sandbox.limits import GiB, Limits, MiB
from grader.sandbox.session import WorkerLost, WorkerSession

BASES, PROBLEM = cgroup.available()
V2_ONLY = BASES is None and cgroup2.available()[0] is not None
# Outside CI (a non-root developer) these tests may skip; CI runs as root with cgroups, so there
# they never skip: a sandbox that lost its cgroup fails them.
needs_cgroups = pytest.mark.skipif(BASES is None and not V2_ONLY and not in_ci(), reason=f"no cgroups here: {PROBLEM}")
# On a cgroup v2 host (`make test-vm`) what is about v1's own files skips; the rest runs on v2's groups.
v1_layout = pytest.mark.skipif(V2_ONLY, reason="the cgroup v1 layout; tests/sandbox/test_cgroup2.py checks the v2 "
                                               "one on this cgroup v2 host")


def sandboxed(*sources: str, **limits) -> WorkerSession:
    cells = [{"index": i, "source": textwrap.dedent(s)} for i, s in enumerate(sources, start=1)]
    sandbox = bubblewrap.available()[0]
    assert sandbox is not None
    return WorkerSession(cells, support=[SUPPORT], limits=Limits(**limits), isolation=sandbox)


def _peak(session: WorkerSession, group=None) -> int:
    """The most memory the group's processes ever held together: the kernel's own high-water mark."""
    group = group or session.cgroup
    if "memory" in group.folders:
        return int((group.folders["memory"] / "memory.max_usage_in_bytes").read_text())
    return int((group.folder / "memory.peak").read_text())  # cgroup v2 (Linux 5.19 and later)


@needs_cgroups
@v1_layout
def test_the_sandbox_uses_a_cgroup_when_root_can_make_one():
    sandbox = bubblewrap.available()[0]
    assert sandbox.name == "bubblewrap+cgroup" and sandbox.cgroups
    with sandboxed("x = 1") as session:
        session.start()
        folders = list(session.cgroup.folders.values())
        members = [set((folder / "cgroup.procs").read_text().split()) for folder in folders]
        assert members[0] == members[1] and len(members[0]) >= 2  # bwrap and the worker, in both groups
        pids_max = int((session.cgroup.folders["pids"] / "pids.max").read_text())
        assert pids_max == Limits().processes + cgroup.OVERHEAD_PROCESSES
    assert not any(folder.exists() for folder in folders)


@needs_cgroups
def test_a_fork_bomb_of_memory_hogs_is_held_to_the_cap_of_the_whole_sandbox():
    source = """
    import os, time
    def bomb(children):
        pids = []
        for _ in range(children):
            pid = os.fork()
            if pid == 0:
                hoard = b"x" * (1 << 30)  # 1 GiB, every page written
                time.sleep(5)
                os._exit(0)
            pids.append(pid)
        return [os.waitpid(pid, 0)[1] for pid in pids]
    def alive():
        return "yes"
    """
    cap = 512 * MiB
    with sandboxed(source, memory=cap) as session:
        session.start()
        group = session.cgroup
        seen = {}
        close = group.close
        group.close = lambda: (seen.update(peak=_peak(session, group), out_of_memory=group.out_of_memory), close())
        try:  # the kernel kills the biggest process: the children, or the worker if it is bigger at that moment
            statuses = session.call("bomb", (4,), {}, timeout=60)
        except WorkerLost as lost:
            assert "used more than the 512 MiB memory cap" in lost.reason
        else:
            assert statuses == [9] * 4  # each child was killed by the kernel (SIGKILL), none finished
            assert session.call("alive", (), {}, timeout=10) == "yes"
    assert seen["out_of_memory"] and seen["peak"] <= cap  # all of them together never had more than the cap
    assert not any(folder.exists() for folder in group.folders.values())  # v1: one per controller; v2: one


@needs_cgroups
def test_running_out_of_memory_costs_the_call_with_a_clear_message_and_the_next_worker_is_fine():
    source = """
    import torch
    def hog():
        hoard = []
        while True:
            hoard.append(torch.ones(64 * 1024 * 1024, dtype=torch.uint8))
    def ok():
        return torch.ones(3).sum().item()
    """
    with sandboxed(source, memory=768 * MiB) as session:
        session.start()
        with pytest.raises(WorkerLost) as lost:
            session.call("hog", (), {}, timeout=60)
        assert "used more than the 768 MiB memory cap" in lost.value.reason
        assert session.cgroup is None  # closed and removed with its worker
        session.start()
        assert session.call("ok", (), {}, timeout=10) == 3.0


@needs_cgroups
@v1_layout
def test_the_groups_of_a_grader_that_died_are_removed_at_the_next_start():
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    assert not os.path.exists(f"/proc/{dead_pid}")
    stale = cgroup.Cgroup.__new__(cgroup.Cgroup)
    stale.folders = {controller: base / f"{dead_pid}-0" for controller, base in BASES.items()}
    for folder in stale.folders.values():
        folder.mkdir(parents=True)
    left = subprocess.Popen(["sleep", "600"])
    for folder in stale.folders.values():
        (folder / "cgroup.procs").write_text(str(left.pid))
    with sandboxed("x = 1") as live:
        live.start()  # a group of a grader that is alive (this one): never swept
        cgroup.sweep(BASES)
        assert all(folder.exists() for folder in live.cgroup.folders.values())
    assert left.wait(timeout=10) == -9
    assert not any(folder.exists() for folder in stale.folders.values())


def test_without_cgroups_the_rlimits_cap_each_process(monkeypatch):
    monkeypatch.setattr(cgroup, "available", lambda: (None, "not root"))
    monkeypatch.setattr(cgroup2, "available", lambda: (None, "not root"))  # else a v2 host picks cgroup2
    sandbox, _ = bubblewrap.available.__wrapped__()
    assert sandbox.name == "bubblewrap" and not sandbox.cgroups
    assert sandbox.cgroup(Limits()) is None
    assert Limits(memory=GiB).rlimits()["AS"] == GiB
    assert Limits(memory=GiB).rlimits(memory_in_cgroup=True)["AS"] > GiB
