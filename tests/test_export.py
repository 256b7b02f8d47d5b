"""grader/export.py: items.csv, the long format (one row per student x question x test)."""

from __future__ import annotations

import csv
import io

from grader import export
from grader.results import QuestionResult, QuestionStatus, SubmissionResult, TestResult


def _test(name, passed, metrics=None, hidden=False, points=1.0):
    return TestResult(name=name, hidden=hidden, passed=passed, score=points if passed else 0.0, max_score=points,
                      metrics=metrics or {})


def _results() -> list[SubmissionResult]:
    zed = SubmissionResult(student="zed", lab="L2-A", questions=[
        QuestionResult(name="linear_q_with_scale_and_zero_point", score=1.0, max_score=3.0, mistake="missing_clamp",
                       tests=[_test("course fixture", False, {"mismatched_codes": 1, "dequantized_mse": 1234.5}),
                              _test("hidden: random", True, {"mismatched_codes": 0}, hidden=True, points=2.0)]),
        QuestionResult(name="linear_dequantization", score=0.0, max_score=1.0, status=QuestionStatus.TIMEOUT,
                       tests=[_test("course fixture", False)]),
    ])
    ann = SubmissionResult(student="=ann", lab="L2-A", questions=[
        QuestionResult(name="linear_q_with_scale_and_zero_point", score=1.0, max_score=1.0,
                       tests=[_test("course fixture", True, {"max_abs_error": 1.25e-07})]),
    ])
    return [zed, ann]


def test_items_csv_has_one_row_per_student_question_and_test_with_its_metrics():
    rows = list(csv.reader(io.StringIO(export.items_csv(_results()))))
    assert rows[0] == [*export.ITEM_COLUMNS, "dequantized_mse", "max_abs_error", "mismatched_codes"]
    assert rows[1:] == [
        ["'=ann", "linear_q_with_scale_and_zero_point", "course fixture", "false", "1", "1", "true", "ok", "",
         "", "1.25e-07", ""],
        ["zed", "linear_q_with_scale_and_zero_point", "course fixture", "false", "0", "1", "false", "ok",
         "missing_clamp", "1234.5", "", "1"],
        ["zed", "linear_q_with_scale_and_zero_point", "hidden: random", "true", "2", "2", "true", "ok",
         "missing_clamp", "", "", "0"],
        ["zed", "linear_dequantization", "course fixture", "false", "0", "1", "false", "timeout", "", "", "", ""],
    ]


def test_items_csv_of_no_results_is_its_header():
    assert export.items_csv([]) == ",".join(export.ITEM_COLUMNS) + "\n"
