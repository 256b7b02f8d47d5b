"""`grader grade` end to end for L4-C and L4-D: models, classes and files stay in the worker.

One batch per lab: the course's code, every mistake of `quant_mistakes.whole_model` that affects
the lab, and the hand-out's stubs. Inspections run in the worker beside the student's objects;
their findings are judged here against the reference, and the report names the mistake.
"""

import re

import nbformat
import pytest

from quant_mistakes import whole_model
from test_whole_model_labs import DIAGNOSED

from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.labs import LABS
from grader.sandbox.session import Limits

LIMITS = Limits(question=30.0, load=60.0, cell=20.0)


def _affecting(lab: str) -> dict:
    return {m: spec["affects"][lab] for m, spec in whole_model.MISTAKES.items() if lab in spec["affects"]}


@pytest.fixture(scope="module", params=list(whole_model.QUESTIONS))
def batch(request, tmp_path_factory):
    lab = request.param
    folder = tmp_path_factory.mktemp(f"{lab}-submissions")
    (folder / "ok_course.py").write_text(whole_model.SOLUTION)
    for mistake in _affecting(lab):
        (folder / f"wrong_{mistake}.py").write_text(whole_model.source(mistake))
    notebook = nbformat.read(LABS[lab].notebook, as_version=4)
    nbformat.write(notebook, folder / "handout.ipynb")
    results = grade_batch(GradeConfig(lab=lab, submissions=folder, output=tmp_path_factory.mktemp(f"{lab}-out"),
                                      jobs=2, limits=LIMITS))
    return lab, {r.student: r.to_dict() for r in results}


def _question(result, name):
    return next(q for q in result["questions"] if q["name"] == name)


def test_the_course_code_gets_full_marks_and_the_handout_zero(batch):
    lab, results = batch
    ok = results["ok_course"]
    failed = [(q["name"], t["name"], t["message"]) for q in ok["questions"] for t in q["tests"] if not t["passed"]]
    assert ok["score"] == ok["max_score"] > 0, failed
    assert all(q["diagnosis"] is None for q in ok["questions"])
    handout = results["handout"]
    assert handout["status"] == "graded" and handout["score"] == 0
    assert all("NotImplementedError" in t["message"] for q in handout["questions"] for t in q["tests"])


def test_every_mistake_loses_marks_where_it_shows_and_is_named(batch):
    lab, results = batch
    for mistake, questions in _affecting(lab).items():
        result = results[f"wrong_{mistake}"]
        for name in questions:
            assert _question(result, name)["score"] < _question(result, name)["max_score"], (mistake, name)
        for diagnosed, diagnosed_lab, name in DIAGNOSED:
            if diagnosed == mistake and diagnosed_lab == lab:
                assert _question(result, name)["mistake"] == mistake, (mistake, name)
                assert _question(result, name)["diagnosis"] == whole_model.EXPLANATIONS[mistake]


def test_hidden_messages_do_not_reveal_expected_values(batch):
    _, results = batch
    for result in results.values():
        for question in result["questions"]:
            for test in question["tests"]:
                if test["hidden"]:
                    assert not re.search(r"expected:?\s*[-\d\[(]", test["message"], re.IGNORECASE), test["message"]
