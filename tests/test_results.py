"""The result records: JSON strings of the statuses, schema_version, and a lossless round trip."""

import json

import pytest

from grader.results import (
    SCHEMA_VERSION,
    GraderInfo,
    HelperAtFault,
    QuestionResult,
    QuestionStatus,
    SubmissionInfo,
    SubmissionResult,
    SubmissionStatus,
    TestResult,
)


def _graded() -> SubmissionResult:
    quantize = QuestionResult(
        name="linear_q_with_scale_and_zero_point", score=1.0, max_score=2.0, message="",
        diagnosis="Clamp before casting.", mistake="missing_clamp",
        tests=[TestResult(name="course fixture", hidden=False, passed=True, score=1.0, max_score=1.0),
               TestResult(name="hidden: ties", hidden=True, passed=False, score=0.0, max_score=1.0,
                          message="1 of 9 codes differ.", metrics={"mismatched_codes": 1.0, "max_code_difference": 2})],
    )
    rescued = QuestionResult(
        name="linear_dequantization", score=1.0, max_score=1.0, score_with_own_helpers=0.0,
        helpers_at_fault=[HelperAtFault(name="linear_q_with_scale_and_zero_point", lab="L2-A",
                                        question="linear_q_with_scale_and_zero_point")],
        tests=[TestResult(name="round trip", hidden=False, passed=True, score=1.0, max_score=1.0)],
    )
    stuck = QuestionResult(name="linear_dequantization", score=0.0, max_score=1.0, status=QuestionStatus.TIMEOUT,
                           message="It took too long.",
                           tests=[TestResult(name="course fixture", hidden=False, passed=False, score=0.0,
                                             max_score=1.0, message="Not run: it took too long.")])
    return SubmissionResult(
        student="alice", lab="L2-A", score=1.0, max_score=3.0,
        notes=["Cell 2 raised NameError: x. Later cells still ran."],
        submission=SubmissionInfo(file="alice.ipynb", kind="notebook", sha256="ab" * 32),
        questions=[quantize, stuck, rescued],
        grader=GraderInfo(version="0.1.0", torch="2.13.0+cpu", isolation="bubblewrap", material="cd" * 32),
    )


def _unreadable() -> SubmissionResult:
    question = QuestionResult(name="linear_dequantization", score=0.0, max_score=1.0, status=QuestionStatus.NOT_RUN,
                              message="Not graded: the file could not be read.")
    return SubmissionResult(student="bob", lab="L2-A", max_score=1.0, status=SubmissionStatus.UNREADABLE,
                            message="This file is not a notebook.",
                            submission=SubmissionInfo(file="bob.py"), questions=[question],
                            grader=GraderInfo(version="0.1.0", torch="2.13.0+cpu", isolation="process"))


def _internal_error() -> SubmissionResult:
    question = QuestionResult(name="linear_dequantization", score=0.0, max_score=1.0, status=QuestionStatus.NOT_RUN,
                              message="Not graded yet: the grader failed, not your code.")
    return SubmissionResult(student="carol", lab="L2-A", max_score=1.0, status=SubmissionStatus.INTERNAL_ERROR,
                            message="The grader ran into a problem of its own.",
                            submission=SubmissionInfo(file="carol.py"), questions=[question],
                            grader=GraderInfo(version="0.1.0", torch="2.13.0+cpu", isolation="bubblewrap"),
                            grader_error="the worker stopped (exit status 2): Unknown option: -P")


@pytest.mark.parametrize("make", [_graded, _unreadable, _internal_error])
def test_a_result_survives_a_round_trip_through_json(make):
    result = make()
    stored = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert SubmissionResult.from_dict(stored) == result
    assert SubmissionResult.from_dict(stored).to_dict() == result.to_dict()


def test_the_records_round_trip_one_by_one():
    result = _graded()
    test = result.questions[0].tests[1]
    assert TestResult.from_dict(test.to_dict()) == test
    assert QuestionResult.from_dict(result.questions[1].to_dict()) == result.questions[1]
    assert QuestionResult.from_dict(result.questions[2].to_dict()) == result.questions[2]
    assert SubmissionInfo.from_dict(result.submission.to_dict()) == result.submission
    assert GraderInfo.from_dict(result.grader.to_dict()) == result.grader
    remote = GraderInfo(version="0.1.0", isolation="bubblewrap", worker="tcp://10.0.0.7:40111")
    assert GraderInfo.from_dict(remote.to_dict()) == remote and remote.to_dict()["worker"] == "tcp://10.0.0.7:40111"


def test_statuses_are_the_json_strings_of_the_schema():
    assert [s.value for s in SubmissionStatus] == ["graded", "unreadable", "internal_error"]  # new in 5
    assert [s.value for s in QuestionStatus] == ["ok", "missing", "timeout", "crashed", "not_run"]
    assert json.dumps([QuestionStatus.NOT_RUN, SubmissionStatus.GRADED]) == '["not_run", "graded"]'
    assert str(QuestionStatus.TIMEOUT) == f"{QuestionStatus.TIMEOUT}" == "timeout"
    data = _unreadable().to_dict()
    assert data["status"] == "unreadable" and type(data["status"]) is str
    assert data["questions"][0]["status"] == "not_run" and type(data["questions"][0]["status"]) is str
    assert SubmissionResult.from_dict(data).questions[0].status is QuestionStatus.NOT_RUN


def test_every_result_carries_the_schema_version_first():
    assert SCHEMA_VERSION == 5
    for result in (_graded(), _unreadable(), _internal_error()):
        assert list(result.to_dict())[0] == "schema_version" and result.to_dict()["schema_version"] == 5


def test_only_an_internal_error_is_no_grade():
    assert _graded().graded and _unreadable().graded  # an unreadable file scores 0: the student's to fix
    assert not _internal_error().graded
    assert (_graded().score_shown, _unreadable().score_shown, _internal_error().score_shown) == (
        "1", "0", "no grade")


def test_the_json_keys_keep_the_order_of_schema_1():
    data = _graded().to_dict()
    assert list(data) == ["schema_version", "student", "lab", "score", "max_score", "status", "message",
                          "submission", "notes", "questions", "grader"]
    assert list(_internal_error().to_dict())[-1] == "grader_error"
    assert "grader_error" not in _unreadable().to_dict()
    assert list(data["submission"]) == ["file", "kind", "sha256", "late"]  # late: new in schema 3
    assert list(data["grader"]) == ["version", "torch", "isolation", "material", "worker"]  # worker: new in 4
    assert list(data["questions"][0]) == [
        "name", "score", "max_score", "status", "message", "diagnosis", "mistake", "tests",
        "helpers_at_fault", "score_with_own_helpers"]  # version 4 added the last two
    assert data["questions"][2]["helpers_at_fault"] == [
        {"name": "linear_q_with_scale_and_zero_point", "lab": "L2-A", "question": "linear_q_with_scale_and_zero_point"}]
    assert list(data["questions"][0]["tests"][0]) == [
        "name", "hidden", "passed", "score", "max_score", "message", "metrics"]


def test_a_version_2_result_reads_as_on_time():
    data = _graded().to_dict()
    del data["submission"]["late"]
    assert SubmissionResult.from_dict(data).submission.late is False
    data["submission"]["late"] = True
    assert SubmissionResult.from_dict(data).submission.late is True


def test_a_partial_record_takes_the_defaults():
    result = SubmissionResult.from_dict({"student": "dan", "lab": "L2-A"})
    assert result == SubmissionResult(student="dan", lab="L2-A")
    assert result.status is SubmissionStatus.GRADED and result.grader_error is None
    assert "grader_error" not in result.to_dict()


def test_a_version_2_question_has_no_helper_at_fault():
    data = _graded().to_dict()["questions"][0]
    del data["helpers_at_fault"], data["score_with_own_helpers"]
    question = QuestionResult.from_dict(data)
    assert question.helpers_at_fault == [] and question.score_with_own_helpers is None


def test_all_passed_needs_every_test_and_a_question_that_ran():
    quantize, stuck, _ = _graded().questions
    assert not quantize.all_passed and not stuck.all_passed
    quantize.tests[1].passed = True
    assert quantize.all_passed
    quantize.status = QuestionStatus.MISSING
    assert not quantize.all_passed
