"""The caps on a whole sandbox (cgroups), graded: a memory hog, a fork bomb and a CPU hog in one batch
with two right submissions, warm and cold.

Each hog costs only its own question, with the verdict that says which cap it hit; the right ones
keep every mark beside them; and nothing is left behind: no process, and no group of the grader's.
These run with the full tier (cgroup v1 on this project's machines) and in `make test-vm` (cgroup v2
only, tests/vm/run_vm.py). Without cgroups they skip, saying why, except in CI, where they fail.
"""

import os
import shutil
from pathlib import Path

import pytest
from test_hostile import QUANTIZE, SUBMISSIONS, _probe, _question, _sandbox_processes

from ci import in_ci
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.sandbox import bubblewrap, cgroup, cgroup2
from grader.sandbox.limits import Limits

SANDBOX, PROBLEM = bubblewrap.available()
#: A minute a question: a memory hog is killed by the kernel only once reclaiming the sandbox's file pages
#: (torch's libraries) no longer helps, 15 to 30 s on a busy 2-core machine, and longer in `make test-vm`.
LIMITS = Limits(question=60.0, load=120.0, cell=60.0)
#: student -> where it comes from. Graded in this order, two at a time: the CPU hog first, so that
#: the right ones are graded beside it (it spins for 15 s before its functions are even defined).
BATCH = {
    "a_cpu_hog": Path(__file__).resolve().parent / "caps" / "cpu_hog.py",
    "b_right": SUBMISSIONS / "victim.py",
    "c_right": SUBMISSIONS / "victim.py",
    "d_memory_hog": SUBMISSIONS / "hog.py",
    "e_fork_bomb": SUBMISSIONS / "spawner.py",
}


def _cpu_weight() -> bool:
    """Whether the grader gives each sandbox a CPU weight here (the optional cpu controller)."""
    if SANDBOX.cgroup2:
        return "cpu" in (cgroup2.available()[0] / "cgroup.subtree_control").read_text().split()
    return "cpu" in cgroup.available()[0]


def _groups() -> list[Path]:
    """The folders the grader makes its sandboxes' groups in (cgroup v1: one per controller; v2: one)."""
    if SANDBOX.cgroup2:
        return [cgroup2.available()[0]]
    return list(cgroup.available()[0].values())


@pytest.fixture(scope="module", params=[True, False], ids=["warm", "cold"])
def batch(request, tmp_path_factory):
    if SANDBOX is None or not SANDBOX.cgroups:
        why = PROBLEM or f"no cgroups here: v1: {cgroup.available()[1]}; v2: {cgroup2.available()[1]}"
        if in_ci():
            pytest.fail(f"CI needs the sandbox with cgroups: {why}")
        pytest.skip(f"no cgroups here: {why}")
    folder = tmp_path_factory.mktemp("caps-submissions")
    for student, source in BATCH.items():
        shutil.copy(source, folder / f"{student}.py")
    output = tmp_path_factory.mktemp("caps-out")
    results = grade_batch(GradeConfig(lab="L2-A", submissions=folder, output=output, jobs=2, limits=LIMITS,
                                      warm=request.param))
    return {r.student: r.to_dict() for r in results}


def test_each_is_graded_in_the_sandbox_with_cgroups(batch):
    assert sorted(batch) == sorted(BATCH)
    for student, result in batch.items():
        assert result["status"] == "graded", student
        assert result["grader"]["isolation"] == SANDBOX.name  # on a v2-only host: bubblewrap+cgroup2


def test_the_memory_hog_loses_its_question_to_the_memory_cap(batch):
    hog = batch["d_memory_hog"]
    quantize = _question(hog, QUANTIZE)
    assert quantize["score"] == 0 and "used more than the 2 GiB memory cap" in quantize["message"], quantize
    assert hog["score"] == hog["max_score"] - quantize["max_score"]  # its right question keeps its marks
    assert all(outcome != "allocated" for outcome in _probe(hog).values())


def test_the_fork_bomb_stops_at_the_process_cap_and_keeps_its_marks(batch):
    bomb = batch["e_fork_bomb"]
    assert 0 < _probe(bomb)["forked"] < LIMITS.processes
    assert bomb["score"] == bomb["max_score"]


def test_right_submissions_keep_every_mark_beside_a_cpu_hog(batch):
    if not _cpu_weight():
        pytest.skip("the grader gives no sandbox a CPU weight here (no cpu controller): nothing holds the hog back")
    for student in ("b_right", "c_right"):
        result = batch[student]
        failed = [t["message"] for q in result["questions"] for t in q["tests"] if not t["passed"]]
        assert result["score"] == result["max_score"] > 0, (student, failed)


def test_nothing_is_left_behind(batch):
    assert _sandbox_processes() == []
    mine = [group for base in _groups() if base.is_dir() for group in base.iterdir()
            if group.is_dir() and group.name.split("-")[0] == str(os.getpid())]
    assert mine == []  # every sandbox's group, and every warm child's inside it, was removed
