"""`grader build`: hand-outs hold nothing hidden; otter's own runner grades with the zips; each
Gradescope zip holds its own lab's material."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

import mistakes
from grader.build import BuildError, build_student
from grader.build.handout import HANDOUT_FILES
from grader.labs import LABS, Kind, Lab, hidden_case_problems

OTTER = Path(sys.executable).with_name("otter")


def _hidden_case_names(lab: Lab) -> list[str]:
    names = []
    for question in lab.question_names:
        source = lab.hidden_tests(question).read_text()
        names += [line.split("name=")[1].split('"')[1] for line in source.splitlines() if "@test_case(name=" in line]
    return names


@pytest.mark.parametrize("lab", LABS.values(), ids=list(LABS))
def test_student_folder_holds_no_hidden_case_nor_reference(dist, lab):
    folder = dist / "student" / lab.id
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{lab.id}.ipynb", "quantlab", "tests", *HANDOUT_FILES])
    text = "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())
    assert "quant_reference" not in text and "hidden=True" not in text
    hidden_names = _hidden_case_names(lab)
    assert hidden_names and not any(name in text for name in hidden_names)
    for test_file in (folder / "tests").iterdir():
        assert hidden_case_problems(test_file.read_text()) == []
    notebook = nbformat.read(folder / f"{lab.id}.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
    stubs = [c.source for c in notebook.cells if c.cell_type == "code" and "NotImplementedError" in c.source]
    assert len(stubs) >= len(lab.question_names)


@pytest.mark.parametrize("lab", LABS.values(), ids=list(LABS))
def test_autograder_zip_layout(dist, lab):
    with zipfile.ZipFile(dist / "autograder" / f"{lab.id}.zip") as archive:
        names = set(archive.namelist())
        assert {"run_autograder", "setup.sh", "otter_config.json", "files/quant_reference/__init__.py",
                "files/quantlab/checks.py"} <= names
        assert {f"tests/{q}.py" for q in lab.question_names} <= names
        # A .py directly under files/ would sit beside a .py submission and make otter refuse it.
        assert not [n for n in names if n.startswith("files/") and n.count("/") == 1]
        for question in lab.question_names:
            assert "hidden=True" in archive.read(f"tests/{question}.py").decode()
        assert json.loads(archive.read("otter_config.json"))["lang"] == "python"


@pytest.mark.parametrize("lab", LABS.values(), ids=list(LABS))
def test_gradescope_zip_runs_this_grader_on_its_own_lab(dist, lab):
    """dist/gradescope/<LAB>.zip (what run_autograder does with it: tests/gradescope/)."""
    with zipfile.ZipFile(dist / "gradescope" / f"{lab.id}.zip") as archive:
        names = set(archive.namelist())
        run_autograder = archive.read("run_autograder").decode()
    assert {"setup.sh", "run_autograder", "templates/report.md.j2", "solutions/quant_reference/__init__.py"} <= names
    assert len([n for n in names if n.startswith("quantization_grader-") and n.endswith(".whl")]) == 1
    for question in lab.question_names:
        assert {f"assignments/{lab.id}/tests/{question}.py", f"solutions/{lab.id}/tests/{question}.py"} <= names
    others = {n.split("/")[1] for n in names if n.startswith(("assignments/L", "solutions/L"))}
    assert others == {lab.id}
    assert f'-m grader gradescope {lab.id} --root "$ROOT"' in run_autograder


def test_build_refuses_a_public_file_with_a_hidden_case(tmp_path, monkeypatch):
    lab = LABS["L2-A"]
    leaky = tmp_path / "leaky.py"
    leaky.write_text(lab.public_tests(lab.question_names[0]).read_text()
                     + "\n@test_case(points=1, hidden=True)\ndef x(f):\n    pass\n")
    monkeypatch.setattr(Lab, "public_tests", lambda self, q: leaky)
    with pytest.raises(BuildError, match="hidden"):
        build_student(lab, tmp_path / "dist")


def _otter_run(zip_path: Path, submission: Path, folder: Path) -> dict:
    subprocess.run([str(OTTER), "run", "-a", str(zip_path), "-o", str(folder), str(submission)],
                   check=True, capture_output=True, cwd=folder, timeout=300)
    results = json.loads((folder / "results.json").read_text())
    tests = [t for t in results["tests"] if t.get("max_score")]
    return {"score": sum(t["score"] for t in tests), "max_score": sum(t["max_score"] for t in tests)}


#: The labs run with mistakes.COURSE_LITERAL as the correct program; whole-model labs are run as
#: notebooks below (a kernel-run of alice's notebook and of the hand-out), which costs less there.
_CORE_LABS = [lab for lab in LABS.values() if lab.kind is not Kind.WHOLE_MODELS]


@pytest.mark.parametrize("lab", _CORE_LABS, ids=[lab.id for lab in _CORE_LABS])
def test_otter_run_gives_a_correct_script_full_marks_and_the_untouched_notebook_zero(dist, lab, tmp_path):
    zip_path = dist / "autograder" / f"{lab.id}.zip"
    good, untouched = tmp_path / "good", tmp_path / "untouched"
    good.mkdir(), untouched.mkdir()
    (good / "good.py").write_text(mistakes.COURSE_LITERAL)
    # The hand-out itself, run in a kernel: its stubs raise, its demo cells stop, nothing scores.
    (untouched / f"{lab.id}.ipynb").write_bytes((dist / "student" / lab.id / f"{lab.id}.ipynb").read_bytes())
    for submission, full in ((good / "good.py", True), (untouched / f"{lab.id}.ipynb", False)):
        scores = _otter_run(zip_path, submission, submission.parent)
        assert scores["max_score"] == sum(1 for _ in _all_cases(lab))
        assert scores["score"] == (scores["max_score"] if full else 0), (submission.name, scores)


def _all_cases(lab: Lab):
    for question in lab.question_names:
        for source in (lab.public_tests(question).read_text(), lab.hidden_tests(question).read_text()):
            yield from (line for line in source.splitlines() if line.startswith("@test_case("))


@pytest.mark.parametrize("lab_id", ["L2-A", "L4-B"])  # L4-B: a class and in-place functions, inspected in the kernel
def test_otter_run_grades_a_correct_notebook_in_a_kernel(dist, tmp_path, lab_id):
    lab = LABS[lab_id]
    folder = tmp_path / "nb"
    folder.mkdir()
    notebook = folder / "alice.ipynb"
    notebook.write_bytes((Path(__file__).resolve().parents[2] / "examples" / lab.id / "alice.ipynb").read_bytes())
    scores = _otter_run(dist / "autograder" / f"{lab.id}.zip", notebook, folder)
    assert scores["score"] == scores["max_score"] == sum(1 for _ in _all_cases(lab))


@pytest.mark.parametrize("lab_id", ["L4-C", "L4-D"])
def test_otter_run_gives_the_whole_model_notebooks_full_marks_and_the_handout_zero(dist, lab_id, tmp_path):
    """Notebooks that build, quantize, save and load models in a kernel: alice's and the untouched hand-out."""
    lab = LABS[lab_id]
    examples = Path(__file__).resolve().parents[2] / "examples" / lab.id
    for name, notebook, full in (("alice", examples / "alice.ipynb", True),
                                 ("handout", dist / "student" / lab.id / f"{lab.id}.ipynb", False)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}.ipynb").write_bytes(notebook.read_bytes())
        scores = _otter_run(dist / "autograder" / f"{lab.id}.zip", folder / f"{name}.ipynb", folder)
        assert scores["max_score"] == sum(1 for _ in _all_cases(lab))
        assert scores["score"] == (scores["max_score"] if full else 0), (name, scores)
