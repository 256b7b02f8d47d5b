"""`grader grade` end to end, one batch per lab of every kind: real submissions (right, wrong,
broken, stuck) graded in the sandbox. Expectations come from the catalogue's declared effects and
the hand-written tables of tests/expectations.py; one test, the change detector, also compares what
students read with tests/records/behaviour.json (what the grader printed when last recorded)."""

import csv
import json
import re

import pytest
from markupsafe import escape

import batches
import expectations
import mistakes
import quant_mistakes
from grader import export, judge, pictures
from grader.cli import main as cli_main
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.labs import LABS, Kind
from grader.report import report_href

LIMITS = batches.LIMITS
#: The record named whole-model labs' course code `ok_course`; it is `ok_course_literal` everywhere now.
RENAMED = {"ok_course": "ok_course_literal"}


@pytest.fixture(scope="module", params=[pytest.param(lab, marks=batches.group(lab)) for lab in LABS])
def batch(request, tmp_path_factory):
    graded = batches.graded(LABS[request.param], tmp_path_factory)
    return graded.lab, {student: r.to_dict() for student, r in graded.results.items()}, graded.output


def _question(result, name):
    return next(q for q in result["questions"] if q["name"] == name)


def test_every_correct_style_gets_full_marks(batch):
    lab, results, _ = batch
    for student in [s for s in results if s.startswith("ok_")] + ["messy"]:
        result = results[student]
        failed = [(q["name"], t["name"], t["message"]) for q in result["questions"] for t in q["tests"]
                  if not t["passed"]]
        assert result["score"] == result["max_score"] > 0, (student, failed)


def test_every_mistake_loses_marks_on_the_questions_it_affects_through_their_own_code(batch):
    lab, results, _ = batch
    for mistake, questions in batches.mistakes_for(LABS[lab]).items():
        result = results[batches.submission_name(mistake)]
        for name in questions:
            question = _question(result, name)
            if expectations.helpers_at_fault(lab, mistake, name):
                continue  # test_no_double_jeopardy
            assert question["score"] < question["max_score"], (mistake, name)
            assert question["helpers_at_fault"] == [], (mistake, name)


def test_no_double_jeopardy(batch):
    """A right function whose only fault is a wrong helper of the student's keeps every mark, and says
    which helper was at fault and where it is graded (the helpers and labs: tests/expectations.py)."""
    lab, results, _ = batch
    seen = 0
    for mistake, questions in batches.mistakes_for(LABS[lab]).items():
        result = results[batches.submission_name(mistake)]
        for name in questions:
            helpers = expectations.helpers_at_fault(lab, mistake, name)
            if not helpers:
                continue
            seen += 1
            question = _question(result, name)
            assert question["score"] == question["max_score"], (mistake, name, question["tests"])
            assert question["score_with_own_helpers"] < question["max_score"], (mistake, name)
            # Those its tests need relieved: of what the question uses, one earning full marks ends the search.
            named = [h["name"] for h in question["helpers_at_fault"]]
            assert named and set(named) <= set(helpers), (mistake, name, named)
            assert question["helpers_at_fault"] == [
                {"name": h, "lab": expectations.GRADED_IN[h], "question": h} for h in named], (mistake, name)
            assert question["diagnosis"] is None
            report = (_report(batch, batches.submission_name(mistake), "md"))
            assert all(f"`{h}` (graded in" in report for h in named)
    rows = sum(row_lab == lab for row_lab, _, _ in expectations.HELPERS_AT_FAULT)
    assert seen == rows, f"{lab}: {seen} questions graded with a helper at fault, the table has {rows}"


def _report(batch, student: str, suffix: str) -> str:
    return (batch[2] / "reports" / f"{student}.{suffix}").read_text(encoding="utf-8")


def test_each_mistake_is_diagnosed_in_the_report(batch):
    lab, results, _ = batch
    for mistake, questions in batches.mistakes_for(LABS[lab]).items():
        result = results[batches.submission_name(mistake)]
        for name in set(questions) - set(mistakes.MISTAKES[mistake].undiagnosed.get(lab, ())):
            if expectations.helpers_at_fault(lab, mistake, name):
                continue  # full marks: nothing to diagnose
            question = _question(result, name)
            named = (question["mistake"] or "").split(" or ")
            assert mistakes.MISTAKES[mistake].id in named, (mistake, name, question["mistake"])
            assert question["diagnosis"] == quant_mistakes.explain(lab, *named)
    for student in (s for s in results if s.startswith("ok_")):
        assert all(q["diagnosis"] is None and q["mistake"] is None for q in results[student]["questions"])
        assert all(q["helpers_at_fault"] == [] and q["score_with_own_helpers"] is None
                   for q in results[student]["questions"])


def test_untouched_stubs_and_broken_files_score_zero_with_a_message(batch):
    lab, results, _ = batch
    for student in ("stub", "handout"):
        assert results[student]["status"] == "graded" and results[student]["score"] == 0
        assert all(q["status"] == "ok" for q in results[student]["questions"])
        messages = {t["message"] for q in results[student]["questions"] for t in q["tests"]}
        assert all("NotImplementedError" in m for m in messages), messages
    for student in ("empty", "corrupt", "syntax"):
        assert results[student]["status"] == "unreadable" and results[student]["score"] == 0
        assert results[student]["message"]
    assert results["importerror"]["status"] == "graded"
    assert any("ModuleNotFoundError" in note for note in results["importerror"]["notes"])


def test_change_detector_what_students_read_is_what_the_record_holds(batch):
    """A change detector, not a specification: it fails when what students read differs from
    tests/records/behaviour.json, whether the change is a fix or a regression. Read the difference;
    if it is meant, commit the change, then re-record in a commit of its own (never the same commit:
    tests/records/record_behaviour.py). Every lab is compared: a lab the record does not hold fails."""
    lab, results, _ = batch
    record = batches.recorded("batches", lab)
    assert record, f"the change detector holds no record of {lab}'s batch: record it (record_behaviour.py {lab})"
    for name, before in record.items():
        now = results[RENAMED.get(name, name)]
        assert batches.reads_now("batches", now) == before, name


def test_an_exception_or_a_wrong_return_type_costs_only_that_function(batch):
    lab, results, _ = batch
    first, second = LABS[lab].question_names[0], LABS[lab].question_names[-1]
    raised = _question(results["raises"], first)
    assert raised["score"] == 0
    assert all("ZeroDivisionError: oops" in t["message"] for t in raised["tests"])
    wrong_type = _question(results["numpy_out"], second)
    # A case that expects an exception reports that none came, rather than the numpy result.
    named = ["ndarray" in t["message"] or "nothing was raised" in t["message"] for t in wrong_type["tests"]]
    if LABS[lab].kind is Kind.WHOLE_MODELS:
        # The returned value is one finding among several (the model's layers, the calls it made).
        assert wrong_type["score"] < wrong_type["max_score"] and any(named)
    else:
        assert wrong_type["score"] == 0 and all(named)
    if first != second:  # two-question labs: the other question keeps its marks
        assert _question(results["numpy_out"], first)["score"] == _question(results["numpy_out"], first)["max_score"]


def test_a_function_that_hangs_costs_only_its_question(batch):
    lab, results, _ = batch
    result = results["stuck"]
    for question in result["questions"]:
        if question["name"] == "linear_dequantization":
            assert question["status"] == "timeout" and question["score"] == 0
        elif question["name"] == "linear_dequantization_per_group":
            # It calls linear_dequantization, as the course's code does: the helper that hangs is at
            # fault, not its own logic.
            assert question["status"] == "ok" and question["score"] == question["max_score"], question
            assert [h["name"] for h in question["helpers_at_fault"]] == ["linear_dequantization"]
        else:
            assert question["score"] == question["max_score"], question


def test_messy_notebook_notes_say_what_was_not_run(batch):
    _, results, _ = batch
    notes = " ".join(results["messy"]["notes"])
    assert "pip install torch" in notes and "NameError" in notes


def test_outputs_follow_the_schema(batch):
    lab, results, output = batch
    for student, result in results.items():
        saved = json.loads((output / "results" / f"{student}.json").read_text())
        assert saved == result
        assert set(saved) >= {"student", "lab", "score", "max_score", "status", "message", "questions", "grader"}
        assert saved["grader"]["isolation"] and saved["grader"]["torch"]
        for question in saved["questions"]:
            assert set(question) >= {"name", "score", "max_score", "diagnosis", "tests"}
            for test in question["tests"]:
                assert set(test) >= {"name", "hidden", "passed", "score", "max_score", "message", "metrics"}
        assert (output / "reports" / f"{student}.html").stat().st_size > 0
        assert (output / "reports" / f"{student}.md").stat().st_size > 0
    rows = list(csv.DictReader((output / "grades.csv").open()))
    assert [r["student"] for r in rows] == sorted(results)
    assert (list(rows[0])[:4] == ["student", "score", "max_score", "status"]
            and set(LABS[lab].question_names) <= set(rows[0]))
    assert (output / "summary.html").read_text().count("<") > 10
    assert not list(output.rglob("*.tmp"))


def test_hidden_messages_do_not_reveal_expected_values(batch):
    _, results, _ = batch
    for result in results.values():
        for question in result["questions"]:
            for test in question["tests"]:
                if test["hidden"]:
                    assert not re.search(r"expected:?\s*[-\d\[(]", test["message"], re.IGNORECASE), test["message"]


#: Labs whose batch fails no comparison of same-shaped tensors: their graded functions' own mistakes fail
#: on scalars (L2-B's and L3-A's scales) or on shapes (L3-C's per-channel dims), and their helpers'
#: mistakes are relieved by a reference stand-in (grader/own_logic.py), so their failing tests pass.
NOTHING_TO_DRAW = {"L2-B", "L3-A", "L3-B", "L3-C"}


def test_failing_tensor_tests_keep_their_tensors_and_hidden_ones_only_the_error(batch):
    lab, results, output = batch
    captured = 0
    for student, result in results.items():
        kept = [t for q in result["questions"] for t in q["tests"] if "capture" in t]
        for question in result["questions"]:
            assert sum("capture" in t for t in question["tests"]) <= judge.MAX_CAPTURES
        for test in kept:
            assert not test["passed"], (student, test["name"])
            if test["hidden"]:
                assert [test["capture"].get(k) for k in ("original", "yours", "expected")] == [None] * 3
                assert all(d >= 0 for d, _ in test["capture"].get("code_differences") or [])
        html = (output / "reports" / f"{student}.html").read_text()
        assert html.count("<img ") == min(len(kept), pictures.MAX_FIGURES), student
        assert len(html.encode()) < 1_000_000
        captured += len(kept)
    if LABS[lab].kind is Kind.FUNCTIONS and lab not in NOTHING_TO_DRAW:
        assert captured, f"no failing test of {lab} kept its tensors"


def test_items_csv_has_one_row_per_student_question_and_test(batch):
    _, results, output = batch
    rows = list(csv.DictReader((output / "items.csv").open()))
    # A name that a spreadsheet would run as a formula (=, +, -, @ first) is written with a quote before it.
    want = [(student, q["name"], export._csv_safe(t["name"]), t["passed"], q["mistake"] or "")
            for student in sorted(results) for q in results[student]["questions"] for t in q["tests"]]
    assert [(r["student"], r["question"], r["test"], r["passed"] == "true", r["mistake"]) for r in rows] == want


def test_the_summary_names_every_mistake_the_class_made_and_links_who_made_it(batch):
    _, results, output = batch
    html = (output / "summary.html").read_text()
    section = html[html.index('id="misconceptions"'):html.index('id="errors"')]
    for student, result in results.items():
        for question in result["questions"]:
            for mistake_id in filter(None, (question["mistake"] or "").split(" or ")):
                assert str(escape(quant_mistakes.TITLES[mistake_id])) in section
                assert f'href="{report_href(student)}"' in section


def test_exit_codes(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "zero.py").write_text(mistakes.STUB)
    assert cli_main(["grade", "L2-A", str(tmp_path / "subs"), "-o", str(tmp_path / "out")]) == 0
    assert cli_main(["grade", "L9-Z", str(tmp_path / "subs"), "-o", str(tmp_path / "out")]) == 2
    assert cli_main(["grade", "L2-A", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")]) == 2
    assert "unknown lab" in capsys.readouterr().err


def test_a_program_that_cannot_start_is_not_retried_for_every_question(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "quits.py").write_text(mistakes.COURSE_LITERAL + "\nimport os\nos._exit(0)\n")
    [result] = [r.to_dict() for r in grade_batch(GradeConfig(lab="L2-A", submissions=tmp_path / "in",
                                                             output=tmp_path / "out", limits=LIMITS))]
    assert result["score"] == 0
    assert all(q["status"] == "crashed" and "could not be run" in q["message"] for q in result["questions"])


def test_a_grader_failure_on_one_file_costs_that_file_only(tmp_path, monkeypatch):
    import grader.grade.local as grade_package

    (tmp_path / "in").mkdir()
    for name in ("good", "unlucky"):
        (tmp_path / "in" / f"{name}.py").write_text(mistakes.COURSE_LITERAL)
    real = grade_package.grade_submission

    def flaky(path, *args, **kwargs):
        if path.stem == "unlucky":
            raise RuntimeError("a bug in the grader")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(grade_package, "grade_submission", flaky)
    results = {r.student: r.to_dict() for r in grade_batch(GradeConfig(lab="L2-A", submissions=tmp_path / "in",
                                                                       output=tmp_path / "out", limits=LIMITS))}
    assert results["good"]["score"] == results["good"]["max_score"]
    unlucky = results["unlucky"]
    assert unlucky["status"] == "internal_error" and "a bug in the grader" in unlucky["grader_error"]
    assert "not your fault" in (tmp_path / "out" / "reports" / "unlucky.md").read_text()
    assert [line.split(",")[:4] for line in (tmp_path / "out" / "grades.csv").read_text().splitlines()[1:]] == [
        ["good", "15", "15", "graded"], ["unlucky", "", "15", "internal_error"]]  # no grade, never a 0
