"""The cgroup v2 path (cgroup2.py): the same caps as v1, for a cold sandbox and a warm one.

Run wherever the grader can make groups in a writable unified hierarchy with the `memory` and
`pids` controllers (root, or a delegated subtree). Elsewhere they skip with the reason, except in
CI (`CI=true`) on a host with neither cgroup v1 nor v2: there a sandbox without caps fails them.
Which sandbox the grader picks by the hierarchies that work is checked on any host with bubblewrap.
"""

import dataclasses
import textwrap

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
    return dataclasses.replace(sandbox, name="bubblewrap+cgroup2", cgroups=True, cgroup2=True)


HOG = "def hog():\n    hoard = b'x' * (900 * 1024 * 1024)\n    return len(hoard)\ndef ok():\n    return 'ok'"


def test_a_cold_sandbox_gets_a_capped_v2_group_that_is_removed():
    sandbox = _sandbox()
    cells = [{"index": 1, "source": textwrap.dedent(HOG)}]
    with WorkerSession(cells, support=[SUPPORT], limits=Limits(memory=512 * MiB), isolation=sandbox) as session:
        session.start()
        folder = session.cgroup.folder
        assert folder.parent == BASE  # the group is made where cgroup2.available found it can make groups
        assert int((folder / "memory.max").read_text()) == 512 * MiB
        assert int((folder / "pids.max").read_text()) == Limits().processes + cgroup.OVERHEAD_PROCESSES
        assert (folder / "main" / "cgroup.procs").read_text().split()
        with pytest.raises(WorkerLost) as lost:
            session.call("hog", (), {}, timeout=60)
        assert "used more than the 512 MiB memory cap" in lost.value.reason
    assert not folder.exists()


def test_a_warm_child_gets_a_capped_v2_group_inside_its_sandboxs():
    sandbox = _sandbox()
    cells = [{"index": 1, "source": HOG}]
    with SandboxPool(sandbox, Limits(memory=512 * MiB), [SUPPORT]) as pool:
        with WorkerSession(cells, support=[SUPPORT], limits=Limits(memory=512 * MiB), pool=pool) as session:
            session.start()
            child, whole = session.cgroup.folder, session.sandbox.cgroup.folder
            assert child.parent == whole and int((child / "memory.max").read_text()) == 512 * MiB
            assert str(session.process.pid) in (child / "main" / "cgroup.procs").read_text().split()
            with pytest.raises(WorkerLost) as lost:
                session.call("hog", (), {}, timeout=60)
            assert "memory cap" in lost.value.reason
            session.start()
            assert session.call("ok", (), {}, timeout=10) == "ok"
        assert not child.exists()
    assert not whole.exists()


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
    """On this host, with its real probes: v2 works here; v1 wins where it works too."""
    _sandbox()
    chosen = bubblewrap.available()[0]
    assert (chosen.name, chosen.cgroups, chosen.cgroup2) == CHOICES[cgroup.available()[0] is not None, True]
