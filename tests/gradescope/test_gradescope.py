"""`grader gradescope` and dist/gradescope/<LAB>.zip: Gradescope's results.json for right, wrong,
unreadable and missing uploads, checked against Gradescope's specification; the sandbox, or the
unprivileged uid without it; the grader's own failures still give a valid results.json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import mistakes
from ci import in_ci
from grader import gradescope as gradescope_command
from grader.build.gradescope import build_gradescope, build_wheel
from grader.cli import main as cli_main
from grader.config import GradescopeConfig
from grader.errors import GraderError
from grader.grade import self_test
from grader.labs import LABS
from grader.sandbox import bubblewrap, isolation
from gradescope_results import check_shape, question_tests, schema_problems

LAB = LABS["L2-A"]
WRONG = "round_truncate_cast"  # a catalogued mistake of L2-A, with its diagnosis

def test_the_schema_check_rejects_what_gradescope_would():
    good = {"score": 1.0, "output": "ok", "output_format": "md", "tests": [
        {"name": "a", "score": 1, "max_score": 1, "status": "passed", "visibility": "after_published"}]}
    assert schema_problems(good) == []
    bad = [
        [],
        {"tests": [{"name": "a"}]},  # no score anywhere
        {"score": "1"},
        {"score": True},
        {"score": 1, "output_format": "markdown"},
        {"score": 1, "tests": [{"score": 1, "status": "ok"}]},
        {"score": 1, "tests": [{"score": 1, "visibility": "public"}]},
        {"score": 1, "tests": [{"score": 1, "tags": [1]}]},
        {"score": 1, "grade": 1},
        {"score": 1, "tests": [{"score": 1, "expected": 2}]},
    ]
    for results in bad:
        assert schema_problems(results), results


# Uploads ------------------------------------------------------------------------------------------

def _notebook(source: str) -> str:
    return nbformat.writes(new_notebook(cells=[new_code_cell(source)]))


RIGHT = {"Quantization L2-A (final) (1).ipynb": _notebook(mistakes.COURSE_LITERAL)}
WRONG_UPLOAD = {"my_functions.py": mistakes.mistake_source(WRONG)}
UNREADABLE = {"L2-A.ipynb": '{"cells": ['}


def _valid(results: dict) -> dict:
    assert schema_problems(results) == [], schema_problems(results)
    return results


def _tests_of(results: dict, question: str) -> list[dict]:
    return question_tests(results, question)


def _check_shape(results: dict) -> None:
    check_shape(results, LAB)


# The zip, unpacked as Gradescope does, its run_autograder run on uploads -------------------------

@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """The L2-A zip, and the wheel inside it installed into a folder of its own (setup.sh's pip
    install needs the network; the installed grader is this wheel, not the checkout)."""
    dist = tmp_path_factory.mktemp("dist")
    zip_path = build_gradescope(LAB, dist, build_wheel(dist / "wheel"))
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(zip_path) as archive:
        wheel = next(n for n in archive.namelist() if n.endswith(".whl"))
        archive.extract(wheel, site)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--target", str(site / "installed"), str(site / wheel)], check=True)
    return zip_path, site / "installed"


def _run_autograder(autograder, tmp_path: Path, upload: dict[str, str]) -> tuple[dict, subprocess.CompletedProcess]:
    zip_path, installed = autograder
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")  # as Gradescope's build does
    (root / "run_autograder").chmod(0o755)
    for name, text in upload.items():
        (root / "submission" / name).write_text(text)
    env = {**os.environ, "QUANT_GRADER_PYTHON": sys.executable, "PYTHONPATH": str(installed)}
    env.pop("QUANT_GRADER_MATERIAL", None)
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                          timeout=900)
    return json.loads((root / "results" / "results.json").read_text()), done


def test_the_zip_holds_the_scripts_the_wheel_and_the_grading_material(autograder):
    zip_path, installed = autograder
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
        run = archive.read("run_autograder").decode()
        setup = archive.read("setup.sh").decode()
        modes = {n: archive.getinfo(n).external_attr >> 16 for n in ("run_autograder", "setup.sh")}
    assert {"setup.sh", "run_autograder", "templates/report.md.j2", "assignments/quantlab/checks.py",
            "solutions/quant_reference/__init__.py", "solutions/quant_mistakes/catalogue.py"} <= names
    assert {f"solutions/L2-A/tests/{q}.py" for q in LAB.question_names} <= names
    assert {f"assignments/L2-A/tests/{q}.py" for q in LAB.question_names} <= names
    assert not [n for n in names if n.startswith(("solutions/L2-B", "assignments/L2-B")) or "__pycache__" in n]
    assert len([n for n in names if n.endswith(".whl")]) == 1
    assert all(mode & 0o111 for mode in modes.values())
    assert '-m grader gradescope L2-A --root "$ROOT"' in run
    assert 'TORCH_INDEX_URL="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"' in setup
    assert '"torch==2.13.0+cpu" --index-url "$TORCH_INDEX_URL"' in setup  # never another torch
    assert "bubblewrap" in setup and "./quantization_grader-" in setup
    # The wheel holds the grader and its sandbox, and none of the hidden material.
    assert (installed / "grader" / "gradescope" / "__init__.py").is_file()
    assert (installed / "grader" / "sandbox" / "worker.py").is_file()
    assert not (installed / "solutions").exists() and not (installed / "quant_reference").exists()


def test_a_right_notebook_gets_full_marks(autograder, tmp_path):
    results, done = _run_autograder(autograder, tmp_path, RIGHT)
    assert done.returncode == 0, done.stderr
    _valid(results)
    _check_shape(results)
    assert results["score"] == LAB.max_score
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in results["tests"])
    assert results["extra_data"]["isolation"].startswith("bubblewrap")  # this machine's sandbox works
    assert "Quantization L2-A (final) (1).ipynb" in results["extra_data"]["file"]


def test_a_wrong_script_fails_with_its_diagnosis(autograder, tmp_path):
    results, done = _run_autograder(autograder, tmp_path, WRONG_UPLOAD)
    assert done.returncode == 0, done.stderr
    _valid(results)
    _check_shape(results)
    assert 0 < results["score"] < LAB.max_score
    diagnosed = [q for q in results["extra_data"]["questions"] if q["mistake"]]
    assert diagnosed and WRONG in diagnosed[0]["mistake"]
    diagnosis = diagnosed[0]["diagnosis"]
    failed = [t for t in _tests_of(results, diagnosed[0]["name"]) if t["status"] == "failed"]
    assert failed and all(t["score"] == 0 and f"What to look at: {diagnosis}" in t["output"] for t in failed)
    assert "What to look at" in results["output"] and "truncated" in results["output"]
    assert results["extra_data"]["metrics"], "the metrics of the failed cases"
    # Hidden cases say what differed, never what was expected.
    hidden_failed = [t for t in failed if t["extra_data"]["hidden"]]
    assert hidden_failed and not any(", expected " in t["output"] for t in hidden_failed)
    assert any(", expected " in t["output"] for t in failed if not t["extra_data"]["hidden"])


def test_an_unreadable_notebook_scores_zero_and_says_why(autograder, tmp_path):
    results, done = _run_autograder(autograder, tmp_path, UNREADABLE)
    assert done.returncode == 0, done.stderr
    _valid(results)
    _check_shape(results)
    assert results["score"] == 0 and all(t["status"] == "failed" for t in results["tests"])
    assert results["extra_data"]["status"] == "unreadable"
    assert "We could not read your submission" in results["output"]


# The command in this process: what is not the upload's fault, and the fallback without bubblewrap ---

def _root(upload: dict[str, str]) -> Path:
    """A Gradescope root that any user may traverse (as /autograder is), so the checks below test
    the grader's protections, not pytest's private temporary folder."""
    root = Path(tempfile.mkdtemp(prefix="qgs-"))
    root.chmod(0o755)
    (root / "submission").mkdir()
    (root / "results").mkdir(mode=0o777)
    (root / "results").chmod(0o777)  # the grader must lock it anyway
    (root / "source").mkdir()
    (root / "source" / "secret.txt").write_text("hidden material")
    (root / "source").chmod(0o755)
    for name, text in upload.items():
        (root / "submission" / name).write_text(text)
    return root


@pytest.fixture
def root_of():
    made = []

    def make(upload: dict[str, str]) -> Path:
        made.append(_root(upload))
        return made[-1]

    yield make
    for root in made:
        shutil.rmtree(root, ignore_errors=True)


def _grade_here(root: Path) -> dict:
    gradescope_command.main(GradescopeConfig(lab=LAB.id, root=root))
    return _valid(json.loads((root / "results" / "results.json").read_text()))


@pytest.mark.parametrize("upload, says", [
    ({}, "We found no notebook (.ipynb) or Python file (.py)"),
    ({"notes.txt": "hello", ".hidden.py": "x = 1"}, "We found no notebook (.ipynb) or Python file (.py)"),
    ({"a.ipynb": _notebook(mistakes.COURSE_LITERAL), "b.py": mistakes.COURSE_LITERAL}, "holds 2 files"),
], ids=["nothing", "no-candidate", "two-candidates"])
def test_an_upload_without_exactly_one_file_scores_zero_with_a_clear_message(root_of, upload, says):
    results = _grade_here(root_of(upload))
    _check_shape(results)
    assert results["score"] == 0 and results["extra_data"]["status"] == "unreadable"
    assert says in results["output"]


def test_the_upload_is_the_one_notebook_or_script_inside_submission_never_a_link(tmp_path):
    submission, elsewhere = tmp_path / "submission", tmp_path / "elsewhere"
    (submission / "__MACOSX").mkdir(parents=True)
    elsewhere.mkdir()
    (elsewhere / "secret.py").write_text("x = 1")
    (submission / "__MACOSX" / "._lab.py").write_text("")
    (submission / "linked.py").symlink_to(elsewhere / "secret.py")
    (submission / "linked_folder").symlink_to(elsewhere, target_is_directory=True)
    assert gradescope_command.find_upload(submission, LAB)[0] is None
    (submission / "deep" / "down").mkdir(parents=True)
    (submission / "deep" / "down" / "Lab 2 (copy).ipynb").write_text("{}")
    assert gradescope_command.find_upload(submission, LAB) == (submission / "deep" / "down" / "Lab 2 (copy).ipynb", "")


def test_when_the_grader_itself_fails_results_json_says_so_and_scores_zero(root_of, monkeypatch):
    import grader.grade.local as grading

    real = grading.grade_submission

    def broken(upload, *args, **kwargs):  # the self-test (the course's own code) passes; the upload meets the bug
        if upload.name == self_test.course_code().name:
            return real(upload, *args, **kwargs)
        raise RuntimeError("a bug of the grader")

    monkeypatch.setattr(grading, "grade_submission", broken)
    root = root_of(RIGHT)
    with pytest.raises(GraderError, match="a bug of the grader"):
        gradescope_command.main(GradescopeConfig(lab=LAB.id, root=root))
    results = _valid(json.loads((root / "results" / "results.json").read_text()))
    assert results["score"] == 0 and results["tests"] == []
    assert "could not grade your submission" in results["output"] and "not your fault" in results["output"]
    assert "a bug of the grader" not in results["output"]  # for the instructor: extra_data
    assert "RuntimeError: a bug of the grader" in results["extra_data"]["grader_error"]


def test_without_any_isolation_nothing_runs_and_results_json_says_so(root_of, monkeypatch):
    monkeypatch.setattr(bubblewrap, "available", lambda: (None, "bwrap forced off by the test"))
    monkeypatch.setattr("grader.sandbox.unprivileged", lambda: (None, "setuid forced off by the test"))
    root = root_of(RIGHT)
    assert cli_main(["gradescope", LAB.id, "--root", str(root)]) == 2
    results = _valid(json.loads((root / "results" / "results.json").read_text()))
    assert results["score"] == 0
    assert "bwrap forced off" in results["output"] and "setuid forced off" in results["output"]


UNPRIVILEGED, WHY_NOT = isolation.unprivileged()
needs_root = pytest.mark.skipif(UNPRIVILEGED is None and not in_ci(),
                                reason=f"cannot run code as an unprivileged uid here: {WHY_NOT}")

#: Passes only where it is confined as the grader promises (ROOT and HOST_UID_BASE, above which each worker has
#: a uid of its own, are set before it); prints what
#: would corrupt results.json if it reached it.
CONFINED = """
import os
print('{"score": 1000, "tests": [')

def _could(action):
    try:
        action()
        return True
    except OSError:
        return False

WROTE = [name for name in ("pwned", "results.json")
         if _could(lambda: open(f"{ROOT}/results/{name}", "w").write("{"))]
READ = _could(lambda: open(f"{ROOT}/source/secret.txt").read())
OWN = _could(lambda: open("scratch-probe", "w").write("mine"))
PROBLEMS = ([f"uid {os.getuid()}"] * (os.getuid() < HOST_UID_BASE) + WROTE + ["read source"] * READ
            + ["no scratch"] * (not OWN))
_course_dequantization = linear_dequantization

def linear_dequantization(*args, **kwargs):
    if PROBLEMS:
        raise RuntimeError("not confined: " + ", ".join(PROBLEMS))
    return _course_dequantization(*args, **kwargs)
"""


@needs_root
def test_without_bubblewrap_the_code_runs_as_an_unprivileged_uid_that_cannot_write_results(root_of, monkeypatch):
    monkeypatch.setattr(bubblewrap, "available", lambda: (None, "bwrap forced off by the test"))
    root = root_of({})
    (root / "submission" / "lab.py").write_text(f"{mistakes.COURSE_LITERAL}\nROOT = {str(root)!r}\n"
                                                 f"HOST_UID_BASE = {isolation.HOST_UID_BASE}\n{CONFINED}")
    results = _grade_here(root)
    _check_shape(results)
    messages = [t["output"] for t in results["tests"] if t["status"] == "failed"]
    assert results["score"] == LAB.max_score, messages
    assert results["extra_data"]["isolation"] == UNPRIVILEGED.name  # with the cgroup root can make here, if any
    assert "bwrap forced off by the test" in results["extra_data"]["isolation_note"]
    assert f"isolation: {UNPRIVILEGED.name}" in results["output"]
    assert sorted(p.name for p in (root / "results").iterdir()) == ["results.json"]
    assert (root / "results").stat().st_mode & 0o777 == 0o755
    assert (root / "source").stat().st_mode & 0o777 == 0o700
