"""Where bubblewrap is installed but may not make namespaces (a container under Docker's default
profile), `choose` grades as root with an unprivileged uid of each worker's own; elsewhere it refuses
with advice that fits the cause. tests/containers/ proves the same inside a real container.

The grading tests run real workers as those uids on this host: bubblewrap is only said to be refused
(`available` returns the words bwrap says in such a container), the rest is real.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest

import mistakes
from ci import in_ci
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.labs import LABS
from grader.sandbox import SandboxUnavailable, bubblewrap, choose, isolation
from grader.sandbox.isolation import HOST_UID_BASE
from grader.sandbox.limits import Limits

LAB = LABS["L2-A"]
#: bwrap's own words under Docker's default seccomp profile (seen in tests/containers/), as `available` says them.
REFUSED = "bubblewrap failed its self-test (bwrap: Creating new namespace failed: Operation not permitted)"
NOT_ROOT = "the grader is not root, so it cannot run code as another user"
#: A probe: its uid, and whether it could signal the grader (it must not).
UID_PROBE = mistakes.COURSE_LITERAL + """
import os, json
try:
    os.kill(os.getppid(), 0)
    reached = True
except OSError:
    reached = False
raise RuntimeError("PROBE " + json.dumps({"uid": os.getuid(), "signalled_parent": reached}))
"""
#: Detached processes, double-forked out of the worker's process group, and a fork bomb (no exec: the host's
#: Python may lie where other uids cannot exec it, as this machine's pyenv under /root does).
LEAVER = mistakes.COURSE_LITERAL + """
import os, time, json
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(600)
    os._exit(0)
children = []
try:
    while len(children) < 1000:
        child = os.fork()
        if child == 0:
            time.sleep(600)
            os._exit(0)
        children.append(child)
except OSError:
    pass
forked = len(children)
for child in children[:-5]:
    os.kill(child, 9)
    os.waitpid(child, 0)
raise RuntimeError("PROBE " + json.dumps({"forked": forked}))
"""

UNPRIVILEGED, WHY_NOT = isolation.unprivileged()


def _others_may_run(path: str) -> bool:
    """Whether users other than the owner may reach `path`: every folder above it lets them through."""
    return all(folder.stat().st_mode & 0o001 for folder in Path(os.path.realpath(path)).parents)


def _why_not_here() -> str | None:
    """Why these tests cannot run here, or None. In CI only one cause is accepted (tests/tiers.py): a Python
    that another uid cannot run, as make test-pythons' pyenv Pythons under /root are."""
    if UNPRIVILEGED is not None:
        return None
    if not _others_may_run(sys.executable):
        return f"this Python lies where other users cannot run it ({sys.executable}): {WHY_NOT}"
    return None if in_ci() else f"no unprivileged uid here: {WHY_NOT}"


needs_root = pytest.mark.skipif(_why_not_here() is not None, reason=str(_why_not_here()))


@pytest.fixture
def bwrap_refused(monkeypatch):
    monkeypatch.setattr(bubblewrap, "available", lambda: (None, REFUSED))


@needs_root
def test_where_namespaces_are_refused_root_grades_as_an_unprivileged_uid(bwrap_refused):
    chosen = choose()
    assert chosen.name.startswith("unprivileged-uid") and chosen.confined and not chosen.sandboxed


def test_without_root_a_refusal_says_what_to_do_on_a_host_and_in_a_container(bwrap_refused, monkeypatch):
    monkeypatch.setattr("grader.sandbox.unprivileged", lambda: (None, NOT_ROOT))
    with pytest.raises(SandboxUnavailable) as refusal:
        choose()
    said = str(refusal.value)
    assert "bubblewrap is installed, but this system does not let it make namespaces" in said
    assert "Creating new namespace failed" in said and NOT_ROOT in said
    assert "unprivileged_userns_clone" in said and "--security-opt seccomp=unconfined" in said
    assert "apt-get install" not in said and "--unsafe-no-sandbox" in said
    assert choose(unsafe_no_sandbox=True).name == "process"


@pytest.mark.parametrize("problem, says, never", [
    (bubblewrap.NOT_INSTALLED, "apt-get install bubblewrap", "namespaces"),
    ("bubblewrap failed its self-test (AssertionError: has network)", "the sandbox does not work here", "apt-get"),
])
def test_other_causes_get_their_own_advice_and_no_fallback(monkeypatch, problem, says, never):
    monkeypatch.setattr(bubblewrap, "available", lambda: (None, problem))
    with pytest.raises(SandboxUnavailable) as refusal:
        choose()
    assert says in str(refusal.value) and never not in str(refusal.value)


def _uids_alive(first: int) -> list[str]:
    """Processes left running under the uids this process gives its workers."""
    left = []
    for entry in Path("/proc").iterdir():
        try:
            uid = int((entry / "status").read_text().split("\nUid:\t")[1].split()[0])
        except (OSError, IndexError, ValueError):
            continue
        if first <= uid < first + 1000:
            left.append(f"{entry.name} uid={uid}")
    return left


def _probe(result) -> dict:
    note = next(n for n in result.notes if "PROBE " in n)
    return json.loads(note.split("PROBE ", 1)[1].rsplit("}", 1)[0] + "}")


@needs_root
@pytest.mark.parametrize("cgroup", [True, False], ids=["with-its-cgroup", "rlimits-only"])
def test_each_worker_has_a_uid_of_its_own_signals_nothing_and_leaves_nothing_running(
        bwrap_refused, tmp_path, monkeypatch, cgroup):
    chosen = UNPRIVILEGED if cgroup else dataclasses.replace(UNPRIVILEGED, name="unprivileged-uid", cgroups=False,
                                                             cgroup2=False)  # as in a container: no cgroup to kill
    monkeypatch.setattr("grader.sandbox.unprivileged", lambda: (chosen, ""))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "right.py").write_text(mistakes.COURSE_LITERAL)
    (folder / "probe_a.py").write_text(UID_PROBE)
    (folder / "probe_b.py").write_text(UID_PROBE)
    (folder / "leaver.py").write_text(LEAVER)
    results = {r.student: r for r in grade_batch(GradeConfig(
        lab=LAB.id, submissions=folder, output=tmp_path / "out", jobs=2, limits=Limits(question=30.0)))}
    assert {s: r.score for s, r in results.items()} == dict.fromkeys(results, LAB.max_score)
    probes = [_probe(results["probe_a"]), _probe(results["probe_b"])]
    uids = {p["uid"] for p in probes}
    assert len(uids) == 2 and all(uid >= HOST_UID_BASE for uid in uids), probes
    assert not any(p["signalled_parent"] for p in probes), probes
    assert 0 < _probe(results["leaver"])["forked"] < Limits().processes
    assert _uids_alive(HOST_UID_BASE + (os.getpid() % 1000) * 1000) == []
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["isolation"] == chosen.name and run["warm"] is False
    assert any(line.startswith("files:") for line in run["unenforced"])
    assert any(line.startswith("network:") for line in run["unenforced"]) == bool(isolation.network_interfaces())
    summary = (tmp_path / "out" / "summary.html").read_text()
    assert "4 submission(s) ran as an unprivileged uid of their own" in summary
