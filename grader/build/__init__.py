"""`grader build -o dist`: the hand-outs and the otter autograder zips.

    dist/student/<LAB>/      notebook (outputs cleared), public tests, quantlab/ (checks, fixtures, plotting),
                             requirements.txt, requirements-colab.txt and README.md (handout.py)
    dist/autograder/<LAB>.zip  made by otter's own `generate`: full tests (public + hidden),
                               quantlab/ and the hidden reference as packages under files/
    dist/gradescope/<LAB>.zip  a Gradescope autograder that runs this grader (gradescope.py)

Support code ships as package folders, never as top-level .py files: otter copies files/ next
to the submission and refuses a .py submission that has a second .py file beside it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import nbformat
from otter.generate import main as otter_generate
from otter.utils import chdir

from grader.build.gradescope import build_gradescope, build_wheel
from grader.build.handout import write_handout_files
from grader.config import BuildConfig
from grader.errors import GraderError
from grader.export import write_atomic
from grader.labs import LABS, REFERENCE, SUPPORT, Lab, get_lab, hidden_case_problems

__all__ = ["main", "build_student", "build_autograder", "build_gradescope", "BuildError"]

REQUIREMENTS = """\
# Installed by otter's setup.sh on the grading image, beside otter's own requirements.
torch>=2.1,<2.15
numpy
matplotlib
"""
OTTER_CONFIG = {"lang": "python", "pdf": False, "print_summary": True}
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


class BuildError(GraderError):
    """A hand-out cannot be built as it stands (a public test file holds a hidden case)."""


def _replace_dir(staged: Path, final: Path) -> None:
    if final.exists():
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staged.rename(final)


def clean_notebook(source: Path) -> str:
    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(notebook)


def build_student(lab: Lab, output: Path) -> Path:
    """dist/student/<LAB>/: what a student receives. Refuses to ship a hidden case."""
    final = output / "student" / lab.id
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{lab.id}.", dir=final.parent))
    (staged / "tests").mkdir()
    for question in lab.question_names:
        source = lab.test_source(question, hidden=False)
        problems = hidden_case_problems(source)
        if problems:
            raise BuildError(f"{lab.public_tests(question)}: {'; '.join(problems)}")
        (staged / "tests" / f"{question}.py").write_text(source, encoding="utf-8")
    (staged / lab.notebook.name).write_text(clean_notebook(lab.notebook), encoding="utf-8")
    shutil.copytree(SUPPORT, staged / SUPPORT.name, ignore=_IGNORE)
    write_handout_files(lab, staged)
    _replace_dir(staged, final)
    return final


def build_autograder(lab: Lab, output: Path) -> Path:
    """dist/autograder/<LAB>.zip, written by otter generate from a staging folder."""
    final = output / "autograder" / f"{lab.id}.zip"
    with tempfile.TemporaryDirectory(prefix="qbuild-") as folder:
        staging = Path(folder)
        (staging / "tests").mkdir()
        for question in lab.question_names:
            (staging / "tests" / f"{question}.py").write_text(lab.test_source(question, hidden=True), encoding="utf-8")
        for package in (SUPPORT, REFERENCE):
            shutil.copytree(package, staging / package.name, ignore=_IGNORE)
        (staging / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
        (staging / "otter_config.json").write_text(json.dumps(OTTER_CONFIG), encoding="utf-8")
        with chdir(staging):
            otter_generate(
                tests_dir="tests", output_path="autograder.zip", config="otter_config.json",
                requirements="requirements.txt", no_environment=True,
                files=[SUPPORT.name, REFERENCE.name],
            )
        write_atomic(final, (staging / "autograder.zip").read_bytes())
    return final


def build(config: BuildConfig) -> list[Path]:
    labs = [get_lab(lab_id) for lab_id in config.labs] if config.labs else list(LABS.values())
    written = []
    with tempfile.TemporaryDirectory(prefix="qwheel-") as folder:
        wheel = build_wheel(Path(folder))  # one wheel, packed into every lab's Gradescope zip
        for lab in labs:
            written.append(build_student(lab, config.output))
            written.append(build_autograder(lab, config.output))
            written.append(build_gradescope(lab, config.output, wheel))
    return written


def main(config: BuildConfig) -> int:
    for path in build(config):
        print(f"wrote {path}")
    return 0
