"""Before any student's code is graded, the grader proves it can grade here: a self-test.

The course's own code (every function of every lab, as the course writes it: `quant_mistakes.source(None)`)
is graded as one more submission, the way the batch will grade (the same isolation, caps, warm
sandboxes or cold ones, hidden tests and reference), and must score full marks. If it does not, the
grader, its sandbox or this machine is broken, and grading on would only record the grader's failure
as the students' zeros: the command stops with `SelfTestFailed` (exit status 2) before any student's
result exists, and says what broke, in the failing process's own words where there is one.

`grade` runs it before each batch (`local.LocalGrading`), each Dask worker before it joins one
(`cluster.GradingWorker`), `gradescope` before the upload: every time, since a sandbox that worked
yesterday may not today.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.errors import GraderError
from grader.labs import Lab, make_tests_importable
from grader.load import Upload
from grader.results import QuestionStatus, SubmissionResult

__all__ = ["SelfTestFailed", "course_code", "prove"]

class SelfTestFailed(GraderError):
    """The course's own code did not score full marks when graded here: the grader cannot grade here."""


def course_code() -> Upload:
    """The course's own code for every lab, as a submission's bytes."""
    make_tests_importable()
    import quant_mistakes

    return Upload("course-code-self-test.py", quant_mistakes.source(None).encode())


def prove(lab: Lab, grade: Callable[[Upload], SubmissionResult], *, where: str = "") -> None:
    """Grade the course's code with `grade` (the batch's own way of grading one upload); raise
    `SelfTestFailed` unless it scores full marks."""
    result = grade(course_code())
    if not result.graded or result.score < result.max_score:
        raise SelfTestFailed(_failure(lab, result, where))


def _failure(lab: Lab, result: SubmissionResult, where: str) -> str:
    if not result.graded:
        what = result.grader_error or result.message
    else:
        lost = [q for q in result.questions if q.score < q.max_score]
        what = "; ".join(_question_failure(q) for q in lost[:3]) or result.message
    score = f"{result.score:g} / {result.max_score:g}" if result.graded else "no grade"
    return (f"the sandbox failed its self-test{where}, so no submission was graded: the course's own code for "
            f"{lab.id}, graded the way the batch grades, scored {score} instead of full marks. What broke: {what}")


def _question_failure(question) -> str:
    if question.status is not QuestionStatus.OK:
        return f"{question.name}: {question.status} ({question.message})"
    failed = next((t for t in question.tests if not t.passed), None)
    return f"{question.name}: {failed.name}: {failed.message}" if failed else question.name
