"""A batch can be stopped at any point and rerun: nothing lost, nothing duplicated, same files."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_lab_tests import run_cases

import mistakes
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.labs import EXAMPLES, ROOT
from grader.sandbox.session import Limits

# The uninterrupted batch is graded once: the module's tests share one xdist worker (make test runs --dist loadgroup).
pytestmark = pytest.mark.xdist_group("resume")

LIMITS = Limits(question=20.0, load=60.0, cell=20.0)
#: Correct code that also draws unseeded random numbers while it runs.
NOISY = (mistakes.COURSE_LITERAL
         + "\n\nimport random\nimport numpy as np\nnoise = (torch.rand(3), random.random(), np.random.rand())\n")
#: Stochastic rounding: its grade depends on the random numbers the worker's seed produces.
STOCHASTIC = mistakes.COURSE_LITERAL.replace("torch.round(",
                                             "torch.floor(torch.rand_like(scaled_and_shifted_tensor) + ")


def _submissions(folder: Path) -> Path:
    folder.mkdir()
    for example in sorted((EXAMPLES / "L2-A").iterdir()):
        shutil.copy(example, folder / example.name)
    (folder / "noisy.py").write_text(NOISY)
    (folder / "stochastic.py").write_text(STOCHASTIC)
    return folder


def _files(output: Path) -> dict[str, bytes]:
    """Every output file but run.json, the one file meant to differ between runs."""
    return {
        str(p.relative_to(output)): p.read_bytes()
        for p in sorted(output.rglob("*")) if p.is_file() and p.name != "run.json"
    }


def _run(folder: Path, output: Path, **options) -> list[dict]:
    return [r.to_dict() for r in grade_batch(GradeConfig(lab="L2-A", submissions=folder, output=output, jobs=1,
                                                         limits=LIMITS, **options))]


def _command(folder: Path, output: Path) -> list[str]:
    return [sys.executable, "-m", "grader", "grade", "L2-A", str(folder), "-o", str(output), "-j", "1",
            "--question-timeout", "20"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    folder = _submissions(root / "submissions")
    output = root / "out"
    subprocess.run(_command(folder, output), cwd=ROOT, check=True, capture_output=True)
    return folder, output


def test_the_stochastic_submission_really_depends_on_randomness():
    """What its tests tell it depends on the random numbers it draws: under another seed its failing
    cases say other things, under the same seed the same. So the identical files of two runs (below)
    show that the worker seeds every generator, not merely that nothing random ran."""
    env = mistakes.student_env(STOCHASTIC, label="stochastic")

    def told(seed: int) -> dict[str, str]:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return {case: repr(error) for case, error in
                    run_cases("L2-A", "linear_q_with_scale_and_zero_point", env).items()}

    first = told(0)
    assert first != dict.fromkeys(first, "None"), "it fails no case: it draws nothing that matters"
    assert told(0) == first
    assert told(1) != first, "another seed tells it the same: nothing random reaches what it is told"


def test_two_runs_give_identical_files(uninterrupted, tmp_path):
    folder, output = uninterrupted
    _run(folder, tmp_path / "again", force=True)
    assert _files(tmp_path / "again") == _files(output)


def test_a_rerun_reuses_every_result_and_changes_nothing(uninterrupted, tmp_path):
    folder, output = uninterrupted
    copy = tmp_path / "out"
    shutil.copytree(output, copy)
    before = _files(copy)
    results = _run(folder, copy)
    run = json.loads((copy / "run.json").read_text())
    assert run["graded"] == 0 and len(run["reused"]) == len(results) == 7
    assert _files(copy) == before


def test_a_changed_submission_is_graded_again_and_force_regrades_all(uninterrupted, tmp_path):
    folder, output = uninterrupted
    changed = tmp_path / "submissions"
    shutil.copytree(folder, changed)
    (changed / "noisy.py").write_text(mistakes.STUB)
    copy = tmp_path / "out"
    shutil.copytree(output, copy)
    results = {r["student"]: r for r in _run(changed, copy)}
    run = json.loads((copy / "run.json").read_text())
    assert run["graded"] == 1 and "noisy" not in run["reused"]
    assert results["noisy"]["score"] == 0 and results["alice"]["score"] == results["alice"]["max_score"]
    _run(changed, copy, force=True)
    assert json.loads((copy / "run.json").read_text())["graded"] == 7


def test_a_result_from_other_tests_or_a_grader_failure_is_not_reused(uninterrupted, tmp_path):
    folder, output = uninterrupted
    copy = tmp_path / "out"
    shutil.copytree(output, copy)
    alice, bob = copy / "results" / "alice.json", copy / "results" / "bob.json"
    stale = json.loads(alice.read_text())
    stale["grader"]["material"] = "0" * 64
    alice.write_text(json.dumps(stale))
    failed = json.loads(bob.read_text()) | {"grader_error": "RuntimeError: boom"}
    bob.write_text(json.dumps(failed))
    (copy / "results" / ".carol.json.x1y2.tmp").write_text("{half")
    _run(folder, copy)
    run = json.loads((copy / "run.json").read_text())
    assert json.loads((output / "run.json").read_text())["reused"] == []
    assert run["graded"] == 2 and "alice" not in run["reused"] and "bob" not in run["reused"]
    assert _files(copy) == _files(output)


def test_kill_9_midway_then_rerun_gives_the_uninterrupted_output(uninterrupted, tmp_path):
    folder, output = uninterrupted
    interrupted = tmp_path / "out"
    process = subprocess.Popen(_command(folder, interrupted), cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = interrupted / "results"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = len(list(results.glob("*.json")))
    assert 2 <= done < 7, "the batch should have been killed midway"
    assert not (interrupted / "grades.csv").exists()

    finished = subprocess.run(_command(folder, interrupted), cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    run = json.loads((interrupted / "run.json").read_text())
    assert len(run["reused"]) == done and run["graded"] == 7 - done
    assert f"{len(run['reused'])} of them were already graded" in finished.stdout
    assert _files(interrupted) == _files(output)
    assert not list(interrupted.rglob("*.tmp"))
