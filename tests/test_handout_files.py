"""What every hand-out tells a student: requirements.txt, requirements-colab.txt, README.md and the
set-up cell's message when an import fails (and the grader never imports otter for that cell).

They are derived from `grader.build.handout.PACKAGES`. That a fresh venv of these requirements runs a
right notebook top to bottom is tests/build/test_handout.py (the full tier: it installs a venv).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from grader.build import build_student
from grader.build.handout import HANDOUT_FILES, PACKAGES, PYTHON_TESTED
from grader.labs import LABS, SUPPORT
from grader.load import load_submission

#: The torch a student installs first (pinned: the local CPU build here).
TORCH = "torch==2.13.0"
#: What the set-up cell prints when an import fails (the words a student acts on).
MESSAGE = ("%pip install -r requirements.txt", "%pip install -r requirements-colab.txt", "restart",
           "the kernel and run this cell again", "README.md")


def setup_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "otter.Notebook(" in c.source]
    return cell


def _guard(source: str) -> str:
    """The set-up cell's `try: ... raise` block."""
    match = re.search(r"^try:.*?^    raise$", source, re.M | re.S)
    assert match, f"the set-up cell has no try/except that re-raises:\n{source}"
    return match[0]


@pytest.fixture(scope="module")
def handouts(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("dist")
    for lab in LABS.values():
        build_student(lab, output)
    return output / "student"


@pytest.mark.parametrize("lab", LABS.values(), ids=list(LABS))
def test_every_handout_ships_requirements_and_a_readme(handouts, lab):
    folder = handouts / lab.id
    assert {p.name for p in folder.iterdir()} == {f"{lab.id}.ipynb", "quantlab", "tests", *HANDOUT_FILES}
    readme = (folder / "README.md").read_text(encoding="utf-8")
    for words in (f"# Lab {lab.id} · {lab.title}", "pip install -r requirements.txt", "python3 -m venv",
                  "%pip install -r requirements-colab.txt", f"jupyter lab {lab.id}.ipynb",
                  f'grader.check("{lab.question_names[0]}")', "NotImplementedError", "Restart Kernel and Run All",
                  f"Python {PYTHON_TESTED}", *(f"{p.name} {p.tested}" for p in PACKAGES)):
        assert words in readme, words


def test_the_requirements_admit_the_tested_versions_and_colab_leaves_out_only_torch(handouts):
    for lab in LABS:  # one declaration, so every hand-out says the same
        for name in ("requirements.txt", "requirements-colab.txt"):
            assert (handouts / lab / name).read_bytes() == (handouts / "L2-A" / name).read_bytes()
    lines = {}
    for name in ("requirements.txt", "requirements-colab.txt"):
        text = (handouts / "L2-A" / name).read_text(encoding="utf-8")
        lines[name] = {r.name: r for r in map(Requirement, (line for line in text.splitlines()
                                                           if line.strip() and not line.startswith("#")))}
    assert set(lines["requirements.txt"]) == {"torch", "otter-grader", "numpy", "matplotlib"}
    assert set(lines["requirements-colab.txt"]) == {"otter-grader", "numpy", "matplotlib"}
    for package in PACKAGES:
        specifier = lines["requirements.txt"][package.name].specifier
        # The lower bound is the tested version itself, and the upper bound admits it.
        assert {str(s) for s in specifier} == {f">={package.tested}", f"<{package.below}"}
        assert specifier.contains(package.tested) and Version(package.tested) < Version(package.below)
    assert lines["requirements.txt"]["torch"].specifier.contains("2.13.0")
    assert TORCH == f"torch=={next(p.tested for p in PACKAGES if p.name == 'torch')}"


@pytest.mark.parametrize("lab", LABS.values(), ids=list(LABS))
def test_the_setup_cell_imports_every_package_in_one_guard(lab):
    notebook = nbformat.read(lab.notebook, as_version=4)
    guard = _guard(setup_cell(notebook).source)
    # The same words in every lab, and the modules of exactly the declared packages.
    assert guard == _guard(setup_cell(nbformat.read(LABS["L2-A"].notebook, as_version=4)).source)
    assert set(re.findall(r"^    import (\w+)$", guard, re.M)) == {p.module for p in PACKAGES}
    assert all(p.name in guard for p in PACKAGES)


def test_a_failing_import_says_what_to_install_and_the_grader_never_imports_otter(tmp_path):
    """Each set-up cell as a student runs it without otter: the message, then the error itself.
    The same cell as the grader runs it (grader.load strips otter's import): no otter needed."""
    block = textwrap.dedent("""\
        import importlib.abc, json, sys
        class NoOtter(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "otter":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, NoOtter())
        out = {}
        for lab, (student, graded) in json.loads(sys.stdin.read()).items():
            print(f"<<{lab}>>", flush=True)
            try:
                exec(student, {})
                out[lab] = {"student": None}
            except ModuleNotFoundError as error:
                out[lab] = {"student": error.name}
            exec(graded, {})  # raises if the grader's version of the cell needs otter
            out[lab]["graded"] = "ran"
        print("<<result>>" + json.dumps(out))
        """)
    cells = {}
    for lab in LABS.values():
        program = load_submission(lab.notebook)
        student = setup_cell(nbformat.read(lab.notebook, as_version=4)).source
        (graded,) = [c["source"] for c in program.cells if "requirements.txt" in c["source"]]
        assert not re.search(r"^\s*(import|from)\s+otter\b|otter\.Notebook", graded, re.M)
        # What runs in the grader: the lines after `grader = otter.Notebook(...)`, with quantlab.
        cells[lab.id] = (student, graded)
    shutil.copytree(SUPPORT, tmp_path / SUPPORT.name)
    result = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, ''); exec({block!r})"],
                            input=json.dumps(cells), capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    output, _, verdict = result.stdout.rpartition("<<result>>")
    assert json.loads(verdict) == {lab: {"student": "otter", "graded": "ran"} for lab in LABS}
    for lab in LABS:
        printed = output.split(f"<<{lab}>>")[1].split("<<")[0]
        for words in MESSAGE:
            assert words in printed, (lab, words, printed)
