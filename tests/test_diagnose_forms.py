"""Diagnosis that generalises: forms of the catalogued mistakes written unlike the catalogue are named.

Each form (`tests/mistake_forms`) is laid over the course-literal notebook and diagnosed, through
`grader.diagnose.diagnose` as grading calls it, on every question its id affects (as the
catalogue declares, less the questions whose probes cannot show it). Where the form changes
nothing the probes see (a form of a scale helper, on a question that never calls it), there is
nothing to name; everywhere else the id must be named, or the pair of ids the catalogue itself
cannot tell apart there (`test_diagnose.TWINS`), and a case of the question's tests must fail
(`test_lab_tests.run_cases`). Each test records its counts; the run ends with
the recognition rate per id (`conftest.pytest_terminal_summary`, also written to
`.pytest_cache/d/diagnosis/recognition.md`).
"""

from __future__ import annotations

import importlib

import pytest
from mistake_forms import CORRECT, FORMS, UNCATALOGUED, labs_written
from test_diagnose import TWINS, diagnosed
from test_lab_tests import run_cases

import batches
import mistakes
import quant_mistakes
from grader.config import GradeConfig
from grader.diagnose import findings, same
from grader.grade import grade_batch
from grader.labs import LABS


def affected(mistake_id: str) -> list[tuple[str, str]]:
    """The (lab, question) pairs where some catalogued form of `mistake_id` must be diagnosed."""
    pairs = {
        (lab, question)
        for mistake in quant_mistakes.MISTAKES.values() if mistake.id == mistake_id
        for lab, questions in mistake.affects.items() for question in questions
        if question not in mistake.undiagnosed.get(lab, ())
    }
    return sorted(pairs)


def shown(question: str, env: dict) -> bool:
    """The form's findings differ from the course's on at least one of the question's probes."""
    probes = quant_mistakes.probes(question)
    course = findings(probes, quant_mistakes.model(None).__getitem__)
    return not all(same(a, b) for a, b in zip(findings(probes, env.__getitem__), course, strict=True))


def accepted(mistake_id: str, lab: str, question: str) -> set[str]:
    """What the diagnosis may say: the id, or the twin pair the catalogue names there."""
    return {mistake_id} | {name for (key, *where), name in TWINS.items()
                           if tuple(where) == (lab, question) and mistake_id in name.split(" or ")
                           and quant_mistakes.MISTAKES[key].id == mistake_id}


#: Topics (`quant_mistakes.mistakes.<topic>`) whose every mistake id has forms; a topic joins once it does.
COMPLETE_TOPICS = ("quantize", "granularity", "w8a32", "layers", "whole_model", "packing")

CASES = [(mistake_id, index) for mistake_id, sources in FORMS.items() for index in range(len(sources))]


def test_every_form_names_a_catalogued_id_and_each_id_has_three_forms():
    ids = {mistake.id for mistake in quant_mistakes.MISTAKES.values()}
    assert set(FORMS) <= ids
    assert all(len(sources) >= 3 for sources in FORMS.values())
    assert all(len(set(sources)) == len(sources) for sources in FORMS.values())
    for topic in COMPLETE_TOPICS:
        module = importlib.import_module(f"quant_mistakes.mistakes.{topic}")
        assert {mistake.id for mistake in module.MISTAKES} <= set(FORMS), topic


@pytest.mark.parametrize(("mistake_id", "index"), CASES, ids=[f"{m}-form{i + 1}" for m, i in CASES])
def test_a_form_of_a_mistake_is_named_and_fails_a_case_wherever_the_probes_show_it(mistake_id, index,
                                                                                   record_property):
    """A form is a real mistake, and a recognised one: wherever the probes show it, a diagnosis names it,
    and a case of that question fails (a check's message, or the error torch raises on it)."""
    env = mistakes.student_env(mistakes.COURSE_LITERAL, FORMS[mistake_id][index], label=f"{mistake_id} form")
    named, missed, unseen, passing = [], [], [], []
    for lab, question in affected(mistake_id):
        if not shown(question, env):
            unseen.append(f"{lab}:{question}")
            continue
        found = diagnosed(lab, question, env)
        name = found[0] if found else None
        (named if name in accepted(mistake_id, lab, question) else missed).append(f"{lab}:{question} -> {name}")
        if not any(run_cases(lab, question, env).values()):
            passing.append(f"{lab}:{question}")
    recognised_by = sorted({s.what for s in quant_mistakes.SIGNATURES if s.id == mistake_id})
    record_property("recognition", {"id": mistake_id, "form": index + 1, "named": len(named), "missed": missed,
                                    "unseen": unseen, "signatures": recognised_by})
    assert named or missed, f"form {index + 1} of {mistake_id} changes nothing the probes of {affected(mistake_id)} see"
    assert not passing, f"form {index + 1} of {mistake_id} passes every case of {passing}"
    assert not missed, missed


@pytest.mark.parametrize("index", range(len(CORRECT)), ids=[f"correct{i + 1}" for i in range(len(CORRECT))])
def test_right_code_written_otherwise_gets_no_diagnosis_anywhere(index):
    env = mistakes.student_env(mistakes.COURSE_LITERAL, CORRECT[index], label=f"correct form {index + 1}")
    for lab in LABS.values():
        for question in lab.question_names:
            assert diagnosed(lab.id, question, env) is None, (lab.id, question)


@pytest.mark.parametrize("index", range(len(UNCATALOGUED)),
                         ids=[f"uncatalogued{i + 1}" for i in range(len(UNCATALOGUED))])
def test_wrong_code_no_catalogued_mistake_describes_gets_no_diagnosis(index):
    """Better none than wrong: a mistake the catalogue does not know, next to ones its signatures know."""
    source = UNCATALOGUED[index]
    env = mistakes.student_env(mistakes.COURSE_LITERAL, source, label=f"uncatalogued {index + 1}")
    failing = [(lab.id, question) for lab in labs_written(source) for question in lab.question_names
               if any(run_cases(lab.id, question, env).values())]
    assert failing, "it passes every case: it is not a mistake"
    assert [(lab, question, diagnosed(lab, question, env)) for lab, question in failing] == [
        (lab, question, None) for lab, question in failing]


#: Issue 10's examples, each the first form of its id: lab -> (id, the question that names it).
ISSUE_EXAMPLES = {
    "L2-B": [("dtype_not_forwarded", "linear_quantization")],
    "L4-A": [("w8a16_int8_parameter", "W8A16LinearLayer"), ("w8a16_scales_per_column", "W8A16LinearLayer")],
}


@pytest.mark.parametrize("lab", sorted(ISSUE_EXAMPLES))
def test_the_issues_examples_are_named_when_graded_in_the_sandbox(lab, tmp_path):
    """The whole grading path: the probes cross to the worker, a RuntimeError comes back as data."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    for mistake_id, _ in ISSUE_EXAMPLES[lab]:
        (folder / f"{mistake_id}.py").write_text(mistakes.COURSE_LITERAL + "\n\n" + FORMS[mistake_id][0])
    results = grade_batch(GradeConfig(lab=lab, submissions=folder, output=tmp_path / "out", jobs=1,
                                      limits=batches.LIMITS))
    named = {r.student: {q.name: q.mistake for q in r.questions} for r in results}
    assert named == {mistake_id: {**{q: None for q in LABS[lab].question_names}, question: mistake_id}
                     for mistake_id, question in ISSUE_EXAMPLES[lab]}


#: Forms that only a signature names (their findings are no catalogued form's), graded in the sandbox:
#: lab -> (id, form number). Findings that hold dtypes and argument lists, and probes where the
#: student's code raises, cross from the worker as data. (In L3-D the per-channel function is a helper:
#: a reference stands in for it there, and its mistakes are named where it is graded, in L3-C.)
SIGNATURE_ONLY = {
    "L3-C": [("per_channel_wrong_dim", 4), ("per_channel_missing_reshape", 4)],
    "L4-B": [("replace_drops_bias", 2), ("replace_wrong_arg_order", 2), ("replace_wrong_arg_order", 3)],
}


@pytest.mark.parametrize("lab", sorted(SIGNATURE_ONLY))
def test_forms_only_a_signature_names_are_named_when_graded_in_the_sandbox(lab, tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    for mistake_id, number in SIGNATURE_ONLY[lab]:
        source = mistakes.COURSE_LITERAL + "\n\n" + FORMS[mistake_id][number - 1]
        (folder / f"{mistake_id}-{number}.py").write_text(source)
    results = grade_batch(GradeConfig(lab=lab, submissions=folder, output=tmp_path / "out", jobs=1,
                                      limits=batches.LIMITS))
    named = {r.student: {q.name: q.mistake for q in r.questions if q.score < q.max_score} for r in results}
    assert named == {f"{mistake_id}-{number}": dict.fromkeys(affected_in(mistake_id, lab), mistake_id)
                     for mistake_id, number in SIGNATURE_ONLY[lab]}


def affected_in(mistake_id: str, lab: str) -> list[str]:
    return [question for affected_lab, question in affected(mistake_id) if affected_lab == lab]
