"""No double jeopardy (grader/own_logic.py), graded end to end with real submissions, warm and cold.

A wrong helper with right functions downstream: the downstream questions get full marks and name
the helper and where it is graded. A wrong helper with a wrong function downstream: that question
still fails. The helper's own question still fails. A correct submission is unchanged. Every lab's
batch checks the catalogue's mistakes that reach several questions (tests/grade/test_grade.py,
test_no_double_jeopardy); here are the combinations, the cold path, and the mistakes carried into
later labs (`carried_into`).
"""

from __future__ import annotations

import pytest

import batches
import expectations
import mistakes
import quant_mistakes
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.labs import LABS, stand_in_helpers

#: Submission -> the catalogued mistakes it makes (None: the course's code, right).
SUBMISSIONS = {
    "right": (),
    "wrong_scale": ("sym_scale_128",),
    "wrong_rounding": ("round_floor",),
    "wrong_scale_and_dtype_not_forwarded": ("sym_scale_128", "dtype_not_forwarded"),
    "wrong_scale_and_per_channel_dim": ("sym_scale_128", "per_channel_wrong_dim"),
}
SCALE, QUANTIZE = "get_q_scale_symmetric", "linear_q_with_scale_and_zero_point"
#: Lab -> submission -> question -> the helpers named at fault (a tuple: full marks), or None (it still fails).
EXPECTED = {
    "L3-A": {
        "right": {SCALE: (), "linear_q_symmetric": ()},
        "wrong_scale": {SCALE: None, "linear_q_symmetric": (SCALE,)},
        "wrong_rounding": {SCALE: (), "linear_q_symmetric": (QUANTIZE,)},
        "wrong_scale_and_dtype_not_forwarded": {SCALE: None, "linear_q_symmetric": None},
    },
    "L3-B": {
        "right": {"linear_q_symmetric": (), "quantization_error": ()},
        "wrong_scale": {"linear_q_symmetric": (SCALE,), "quantization_error": ()},
        "wrong_rounding": {"linear_q_symmetric": (QUANTIZE,), "quantization_error": ()},
        "wrong_scale_and_dtype_not_forwarded": {"linear_q_symmetric": None, "quantization_error": ()},
    },
    "L3-C": {
        "right": {"linear_q_symmetric_per_channel": ()},
        "wrong_scale": {"linear_q_symmetric_per_channel": (SCALE,)},
        "wrong_rounding": {"linear_q_symmetric_per_channel": (QUANTIZE,)},
        "wrong_scale_and_per_channel_dim": {"linear_q_symmetric_per_channel": None},
    },
}


def source(mistake_keys: tuple[str, ...]) -> str:
    """The course's notebook with each mistake's wrong functions laid over it."""
    text = quant_mistakes.source(None)
    for key in mistake_keys:
        text += "\n\n" + "\n\n".join(quant_mistakes.MISTAKES[key].functions.values())
    return text


def _grade(tmp_path_factory, lab: str, students: dict[str, str], *, warm: bool) -> dict:
    folder = tmp_path_factory.mktemp(f"{lab}-own-logic")
    for student, text in students.items():
        (folder / f"{student}.py").write_text(text)
    output = tmp_path_factory.mktemp(f"{lab}-own-logic-out")
    results = grade_batch(GradeConfig(lab=lab, submissions=folder, output=output, jobs=2, warm=warm,
                                      limits=batches.limits_for(LABS[lab])))
    return {r.student: (r, output) for r in results}


@pytest.fixture(scope="module", params=[(lab, warm) for lab in EXPECTED for warm in (True, False)],
                ids=[f"{lab}-{'warm' if warm else 'cold'}" for lab in EXPECTED for warm in (True, False)])
def graded(request, tmp_path_factory):
    lab, warm = request.param
    students = {student: source(SUBMISSIONS[student]) for student in EXPECTED[lab]}
    return lab, _grade(tmp_path_factory, lab, students, warm=warm)


def test_a_question_is_judged_on_its_own_logic(graded):
    lab, results = graded
    for student, questions in EXPECTED[lab].items():
        result, output = results[student]
        for question in result.questions:
            helpers = questions[question.name]
            where = (student, question.name, [t.message for t in question.tests if not t.passed])
            if helpers is None:
                assert question.score < question.max_score, where
                continue
            assert question.score == question.max_score, where
            assert [(h.name, h.lab, h.question) for h in question.helpers_at_fault] == [
                (h, expectations.GRADED_IN[h], h) for h in helpers], where
            assert (question.score_with_own_helpers is None) == (not helpers), where
            assert question.diagnosis is None and question.mistake is None, where
            if helpers:
                _assert_the_report_names(output, student, question, lab)


def _assert_the_report_names(output, student, question, lab):
    html = (output / "reports" / f"{student}.html").read_text(encoding="utf-8")
    markdown = (output / "reports" / f"{student}.md").read_text(encoding="utf-8")
    for helper in question.helpers_at_fault:
        graded_where = "graded in this lab" if helper.lab == lab else f"graded in lab {helper.lab}"
        assert f"`{helper.name}` ({graded_where}, question `{helper.question}`)" in markdown
        assert f"<code>{helper.name}</code> ({graded_where}, question <code>{helper.question}</code>)" in html
    assert "A helper of yours was at fault" in html and "A helper of yours was at fault" in markdown


#: (mistake, later lab, question, the helpers at fault there): the hand-written table of tests/expectations.py.
CARRIED = [(key, lab, question, helpers) for (key, lab, question), helpers in expectations.CARRIED.items()]


def test_every_mistake_carried_into_a_later_lab_is_in_helpers_that_can_stand_in():
    """Functions, layer classes and functions that change a model in place all stand in."""
    carried = {(key, lab, question) for key, mistake in quant_mistakes.MISTAKES.items()
               for lab, questions in mistake.carried_into.items() for question in questions}
    assert {(key, lab, question) for key, lab, question, _ in CARRIED} == carried
    assert {helper for *_, helpers in CARRIED for helper in helpers} == {
        "w8_a16_forward", "W8A16LinearLayer", "replace_linear_with_target", "replace_linear_with_target_and_quantize"}
    for _, lab, question, helpers in CARRIED:
        assert set(helpers) <= set(stand_in_helpers(LABS[lab], question)), (lab, question, helpers)


@pytest.fixture(scope="module")
def carried_into(tmp_path_factory):
    """Lab -> its graded batch of every mistake carried into it, each lab graded once (in one xdist group)."""
    graded: dict[str, dict] = {}

    def batch(lab: str) -> dict:
        if lab not in graded:
            keys = {key for key, later_lab, _, _ in CARRIED if later_lab == lab}
            graded[lab] = _grade(tmp_path_factory, lab, {batches.submission_name(key): mistakes.mistake_source(key)
                                                         for key in keys}, warm=True)
        return graded[lab]

    return batch


@pytest.mark.parametrize(("key", "lab", "question", "helpers"), [
    pytest.param(*case, id=f"{case[0]}-{case[1]}:{case[2]}", marks=pytest.mark.xdist_group(f"carried-into-{case[1]}"))
    for case in CARRIED])
def test_a_mistake_carried_into_a_later_lab_costs_nothing_there(key, lab, question, helpers, carried_into):
    result, _ = carried_into(lab)[batches.submission_name(key)]
    graded_question = next(q for q in result.questions if q.name == question)
    assert graded_question.score == graded_question.max_score, [t.message for t in graded_question.tests]
    named = [h.name for h in graded_question.helpers_at_fault]
    assert named and set(named) <= set(helpers), named  # of those it uses, the ones its tests need relieved


#: What a reference may not do when it stands in: it runs in the grader, on names the student's code chose.
FILE_ACCESS = {"open", "save", "load", "Path", "remove", "unlink", "system", "popen", "write_text", "read_text"}


def test_no_reference_that_reads_or_writes_files_stands_in():
    for lab in LABS.values():
        for question in lab.questions:
            code = lab.reference_function(question.name)
            codes = [m.__code__ for m in vars(code).values() if hasattr(m, "__code__")] \
                if isinstance(code, type) else [code.__code__]
            names = set().union(*(batches._names_in(c) for c in codes))
            if names & FILE_ACCESS:
                assert not question.stands_in, (lab.id, question.name, names & FILE_ACCESS)
    assert not LABS["L4-D"].questions[0].stands_in  # save_quantized_state_dict
