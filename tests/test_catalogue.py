"""The course catalogue (`grader.labs.LABS`) is the one place a lab is declared.

Everything about a lab is checked against its declaration, both ways: a lab, question, reference
function or mistake that is declared must be exercised by the suite, and one that the suite (or
the repository) holds must be declared. The suite's own parametrisation is read from pytest's
collection of the modules that exercise the labs, so a test that stops covering a lab fails here.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import quant_mistakes
from grader.labs import ASSIGNMENTS, EXAMPLES, LABS, ROOT, SOLUTIONS, SUPPORT, every_function, grading_lab, lab_table

PAIRS = {(lab.id, question) for lab in LABS.values() for question in lab.question_names}
DECLARED_MISTAKES = [key for lab in LABS.values() for key in lab.mistakes]
EXERCISING = ["tests/test_lab_tests.py", "tests/test_diagnose.py"]
CASE = re.compile(r"^(?P<test>\w+)\[(?:(?P<mistake>[\w/]+)-)?(?P<lab>L\d-[A-Z]):(?P<question>\w+)"
                  r"(?:-(?P<style>\w+))?\]$")


@pytest.fixture(scope="module")
def collected() -> dict[str, set]:
    """test name -> the (mistake, lab, question) of each of its collected cases."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *EXERCISING],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    cases: dict[str, set] = {}
    for line in run.stdout.splitlines():
        match = CASE.match(line.rpartition("::")[2])
        if match:
            cases.setdefault(match["test"], set()).add((match["mistake"], match["lab"], match["question"]))
    return cases


def pairs_of(cases: set) -> set:
    return {(lab, question) for _, lab, question in cases}


@pytest.mark.parametrize("test", [
    "test_public_file_shape", "test_hidden_file_shape", "test_merged_file_shape", "test_points_are_the_declared_points",
    "test_reference_passes_every_case", "test_correct_style_passes_every_case", "test_stub_fails_every_case",
])
def test_every_declared_question_is_exercised_and_nothing_else(collected, test):
    assert pairs_of(collected[test]) == PAIRS


def test_every_declared_mistake_is_exercised_and_nothing_else(collected):
    assert len(DECLARED_MISTAKES) == len(set(DECLARED_MISTAKES)), "a mistake is declared by two labs"
    assert {m for m, _, _ in collected["test_mistake"]} == set(DECLARED_MISTAKES)
    diagnosed = {m for m, _, _ in collected["test_every_known_mistake_is_named_on_every_question_it_affects"]}
    assert diagnosed == set(DECLARED_MISTAKES)
    assert set(quant_mistakes.MISTAKES) == set(DECLARED_MISTAKES)


def test_every_affected_question_is_one_the_suite_runs_the_mistake_on(collected):
    tried = collected["test_mistake"]
    for key, mistake in quant_mistakes.MISTAKES.items():
        for field in (mistake.affects, mistake.carried_into, mistake.undiagnosed):
            for lab, questions in field.items():
                assert {(key, lab, q) for q in questions} <= tried, (key, lab, questions)
        for lab, questions in mistake.undiagnosed.items():
            assert set(questions) <= set(mistake.affects[lab]), key


def test_every_declared_reference_function_is_exercised_and_nothing_else(collected):
    functions = set(every_function())
    exercised = {name for lab, _ in pairs_of(collected["test_reference_passes_every_case"])
                 for name in LABS[lab].functions}
    assert exercised == functions
    for name in functions:
        assert callable(grading_lab(name).reference_function(name)), name
    modules = {lab.reference for lab in LABS.values()} | {"quant_reference"}
    published = {name for module in modules for name in importlib.import_module(module).__all__}
    assert published == functions, "a reference function is published that no lab declares, or the reverse"


def test_lab_folders_and_test_files_are_the_declared_ones():
    assert {p.name for p in ASSIGNMENTS.iterdir() if p.is_dir() and p != SUPPORT} == set(LABS)
    assert {p.name for p in SOLUTIONS.iterdir() if p.is_dir() and not p.name.startswith("quant_")} == set(LABS)
    assert {p.name for p in EXAMPLES.iterdir() if p.is_dir()} <= set(LABS)
    on_disk = {(p.parent.parent.name, p.stem) for folder in (ASSIGNMENTS, SOLUTIONS)
               for p in folder.glob("*/tests/*.py")}
    assert on_disk == PAIRS


@pytest.mark.parametrize("lab", list(LABS))
def test_the_notebook_defines_what_the_lab_declares(lab):
    notebook = nbformat.read(LABS[lab].notebook, as_version=4)
    defined = [name for cell in notebook.cells if cell.cell_type == "code"
               for name in re.findall(r"^(?:def|class) (\w+)", cell.source, re.M)]
    assert defined == list(LABS[lab].functions)


def test_every_mistake_has_an_explanation_and_its_questions_have_probes():
    ids = {mistake.id for mistake in quant_mistakes.MISTAKES.values()}
    assert set(quant_mistakes.EXPLANATIONS) == ids
    assert set(quant_mistakes.TITLES) == ids, "every mistake id needs a short title (explanations/*.py, TITLES)"
    assert all(0 < len(title) <= 80 for title in quant_mistakes.TITLES.values())
    for mistake_id, lab in quant_mistakes.IN_LAB:
        assert mistake_id in ids and lab in LABS
    probed = {(lab, q) for m in quant_mistakes.MISTAKES.values() for lab, qs in m.affects.items() for q in qs
              if q not in m.undiagnosed.get(lab, ())}
    for lab, question in probed:
        assert quant_mistakes.probes(question), f"{lab}:{question} has mistakes to name but no probes"


def test_the_readme_table_is_the_catalogues():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert lab_table() in readme, "README.md's lab table is out of date: paste `python -m grader labs` into it"


def test_the_parser_of_case_ids_reads_every_shape():
    assert CASE.match("test_mistake[round_half_away/floor_plus_half-L2-A:linear_dequantization]")["mistake"] == (
        "round_half_away/floor_plus_half")
    match = CASE.match("test_correct_style_passes_every_case[L4-C:quantize_model-example_bob]")
    assert (match["lab"], match["question"], match["style"]) == ("L4-C", "quantize_model", "example_bob")
    assert CASE.match("test_reference_passes_every_case[L3-E:quantized_linear_W8A32_without_bias]")["mistake"] is None
    assert Path(__file__).name == "test_catalogue.py"


def test_the_labs_command_prints_the_catalogue(capsys):
    from grader.cli import main

    assert main(["labs"]) == 0
    assert capsys.readouterr().out == lab_table()
