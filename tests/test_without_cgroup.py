"""Without a cgroup, the grader says so: which caps were in force (`grader.sandbox.caps`), why there was no
cgroup (`why_no_cgroup`), in run.json (`grade._caps`), on stderr once, in the class summary, and in a
student's report only when their code ran out of memory (`report.memory_cap_note`).

The whole path, graded in a real sandbox without a cgroup, is tests/hostile/ under `make test-no-cgroup`
and `make test-unprivileged` (docs/sandbox.md, "Without a cgroup").
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from grader import grade, report
from grader.results import SubmissionResult
from grader.sandbox import Isolation, caps, cgroup, cgroup2, why_no_cgroup
from grader.sandbox.bubblewrap import Bubblewrap
from grader.sandbox.isolation import Unprivileged

PLAIN = Bubblewrap(bwrap="/usr/bin/bwrap", setpriv="/usr/bin/setpriv")
V1 = dataclasses.replace(PLAIN, name="bubblewrap+cgroup", cgroups=True)
V2 = dataclasses.replace(PLAIN, name="bubblewrap+cgroup2", cgroups=True, cgroup2=True)
READ_ONLY = "cannot create a capped cgroup ([Errno 30] Read-only file system: '/sys/fs/cgroup/memory/x')"
ALLOCATION = "RuntimeError: [enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"


@pytest.fixture
def no_cgroup(monkeypatch):
    """This machine's cgroups as a container with a read-only cgroupfs would find them."""
    monkeypatch.setattr(cgroup, "available", lambda: (None, READ_ONLY))
    monkeypatch.setattr(cgroup2, "available", lambda: (None, "no cgroup v2 hierarchy is mounted"))
    grade._warn_rlimits_only.cache_clear()
    yield
    grade._warn_rlimits_only.cache_clear()


def test_the_caps_of_each_isolation():
    assert caps(V1.name) == "cgroup v1" and caps(V2.name) == "cgroup v2"
    for name in (PLAIN.name, Unprivileged().name, Isolation().name, "?"):
        assert caps(name) == "rlimits", name
    assert caps("bubblewrap,bubblewrap+cgroup") == "cgroup v1,rlimits"  # a Dask batch: each worker's
    assert caps("bubblewrap+cgroup2,bubblewrap+cgroup2") == "cgroup v2"


def test_why_there_is_no_cgroup(no_cgroup):
    assert why_no_cgroup(V1) is None and why_no_cgroup(V2) is None
    assert why_no_cgroup(PLAIN) == f"cgroup v1: {READ_ONLY}; cgroup v2: no cgroup v2 hierarchy is mounted"
    assert "plain process" in why_no_cgroup(Isolation())


def test_run_json_records_the_caps_and_grade_warns_once(no_cgroup, capsys):
    local = SimpleNamespace(isolation=PLAIN)
    assert grade._caps(local) == {"caps": "rlimits", "cgroup_problem": why_no_cgroup(PLAIN), "unenforced": [
        "memory: capped for each process on its own (rlimits), not for all of a sandbox's processes together"]}
    grade._caps(local)  # a second batch of the same process (demo grades one per lab): no second warning
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning: no usable cgroup") and READ_ONLY in warnings[0]
    assert grade._caps(SimpleNamespace(isolation=V1)) == {"caps": "cgroup v1", "cgroup_problem": None, "unenforced": []}
    assert grade._caps(SimpleNamespace(isolation=Isolation())) == {  # warned about as --unsafe-no-sandbox
        "caps": "rlimits", "cgroup_problem": why_no_cgroup(Isolation()), "unenforced": [
            "everything: the student's code ran as a plain process with the grader's own rights"]}
    dask = grade._caps(SimpleNamespace(isolation="bubblewrap,bubblewrap+cgroup"))
    assert dask["caps"] == "cgroup v1,rlimits" and "Dask worker" in dask["cgroup_problem"]
    assert capsys.readouterr().err.count("warning: no usable cgroup") == 1


def _result(isolation: str, message: str = "", student: str = "alice") -> SubmissionResult:
    return SubmissionResult.from_dict({
        "student": student, "lab": "L2-A", "score": 8.0, "max_score": 15.0, "status": "graded", "message": "",
        "submission": {"file": f"{student}.py", "sha256": "ab" * 32, "kind": "script"}, "notes": [],
        "questions": [
            {"name": "linear_q_with_scale_and_zero_point", "score": 0.0, "max_score": 7.0, "status": "ok",
             "message": "", "diagnosis": None, "tests": [
                 {"name": "course fixture", "hidden": False, "passed": not message, "score": 0.0, "max_score": 7.0,
                  "message": message, "metrics": {}}]},
            {"name": "linear_dequantization", "score": 8.0, "max_score": 8.0, "status": "ok", "message": "",
             "diagnosis": None, "tests": []},
        ],
        "grader": {"version": "0.1.0", "torch": "2.13.0+cpu", "isolation": isolation, "material": "0" * 64},
    })


@pytest.mark.parametrize("message", [ALLOCATION, "MemoryError", "std::bad_alloc", "OSError: [Errno 12] Cannot "
                                     "allocate memory"])
def test_a_student_who_ran_out_of_memory_without_a_cgroup_reads_a_note(message):
    html, markdown = report.render_student_report(_result("bubblewrap", message))
    assert report.MEMORY_CAP_NOTE in html
    assert "Note: the grader caps the memory of each process that runs your code on its own" in markdown


@pytest.mark.parametrize(("isolation", "message"), [
    ("bubblewrap+cgroup", ALLOCATION),  # the sandbox's memory was capped as a whole: nothing to explain
    ("bubblewrap+cgroup2", ALLOCATION),
    ("bubblewrap", "AssertionError: 3 of 9 codes differ"),  # no memory error: it does not matter to them
    ("bubblewrap", ""),
])
def test_no_note_where_it_does_not_matter_to_the_student(isolation, message):
    html, markdown = report.render_student_report(_result(isolation, message))
    assert report.MEMORY_CAP_NOTE not in html and "caps the memory" not in markdown


def test_the_summary_says_how_many_were_graded_without_a_cgroup():
    results = [_result("bubblewrap", student="alice"), _result("bubblewrap", student="bob"),
               _result("bubblewrap+cgroup", student="carol"), _result("process", student="dave")]
    page = report.render_summary("L2-A", results)
    assert "2 submission(s) were graded without a cgroup" in page and "<code>run.json</code>" in page
    page = report.render_summary("L2-A", [_result("bubblewrap+cgroup"), _result("bubblewrap+cgroup2")])
    assert "without a cgroup" not in page
