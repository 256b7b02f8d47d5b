"""This grader's result in Gradescope's format (`results/results.json`).

Gradescope's autograder specification (gradescope-autograders.readthedocs.io, "Autograder
Specifications", "Output format") reads, of what is written here:

    {score, execution_time (seconds), output, output_format ("text" | "html" | "simple_format" | "md" | "ansi"),
     test_output_format, stdout_visibility, extra_data,
     tests: [{name, score, max_score, status ("passed" | "failed"), output, output_format,
              tags, visibility ("hidden" | "after_due_date" | "after_published" | "visible"), extra_data}]}

What this grader puts there:

- `output`: the student's Markdown report (`grader.report`, the same as `reports/<student>.md`);
- `tests`: one per test case, named `<question>: <case>`, with the message the report gives for
  it (and the diagnosis, for a failed case of a question whose mistake was recognised); public
  cases `visible`, hidden ones `after_published`; hidden cases never carry expected values (the
  checks do not reveal them, see quantlab/checks.py);
- `extra_data`: the isolation the student's code ran under, each question's diagnosis and
  mistake, each case's metrics, and `grader_error` when the grader itself failed;
- `stdout_visibility` `hidden`: run_autograder's own output is for the instructor.
"""

from __future__ import annotations

import math

from grader.report import format_metrics, render_student_report
from grader.results import QuestionResult, SubmissionResult, TestResult

__all__ = ["gradescope_results", "grader_failure", "PUBLIC", "HIDDEN"]

PUBLIC, HIDDEN = "visible", "after_published"


def gradescope_results(result: SubmissionResult, *, isolation_note: str = "") -> dict:
    """results.json's object for one graded (or unreadable) submission."""
    _, markdown = render_student_report(result)
    return {
        "score": float(result.score),
        "output": markdown,
        "output_format": "md",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [_test(question, test) for question in result.questions for test in question.tests],
        "extra_data": _extra_data(result, isolation_note),
    }


def grader_failure(message: str, *, error: str = "") -> dict:
    """results.json's object when the grader itself could not grade: it says so and scores 0."""
    output = ("## The autograder could not grade your submission\n\n"
              f"{message}\n\nThis is not your fault: please tell your instructor. Your score of 0 is not a grade.")
    return {
        "score": 0.0,
        "output": output,
        "output_format": "md",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {"grader_error": error or message},
    }


def _test(question: QuestionResult, test: TestResult) -> dict:
    return {
        "name": f"{question.name}: {test.name}",
        "score": float(test.score),
        "max_score": float(test.max_score),
        "status": "passed" if test.passed else "failed",
        "output": _test_output(question, test),
        "tags": [question.name],
        "visibility": HIDDEN if test.hidden else PUBLIC,
        "extra_data": {"question": question.name, "hidden": test.hidden, "metrics": _metrics(test.metrics)},
    }


def _test_output(question: QuestionResult, test: TestResult) -> str:
    lines = [test.message or ("Passed." if test.passed else "Failed.")]
    if test.metrics:
        lines.append(format_metrics(test.metrics))
    if not test.passed and question.diagnosis:
        lines.append(f"What to look at: {question.diagnosis}")
    return "\n\n".join(lines)


def _extra_data(result: SubmissionResult, isolation_note: str) -> dict:
    data = {
        "lab": result.lab,
        "file": result.submission.file,
        "status": result.status.value,
        "isolation": result.grader.isolation,
        "grader": result.grader.version,
        "torch": result.grader.torch,
        "questions": [{"name": q.name, "score": float(q.score), "max_score": float(q.max_score),
                       "status": q.status.value, "mistake": q.mistake, "diagnosis": q.diagnosis}
                      for q in result.questions],
        "metrics": {f"{q.name}: {t.name}": _metrics(t.metrics) for q in result.questions for t in q.tests
                    if t.metrics},
    }
    if isolation_note:
        data["isolation_note"] = isolation_note
    if result.grader_error is not None:
        data["grader_error"] = result.grader_error
    return data


def _metrics(metrics: dict) -> dict:
    # JSON has no NaN or infinity: such a metric is written as its name ("inf", "nan").
    return {str(name): str(value) if isinstance(value, float) and not math.isfinite(value) else value
            for name, value in metrics.items()}
