"""`grader check LAB FILE`: the student's own check, with the public tests only.

It runs the file the way `grade` does (in a worker process) and prints, per question, the same
summary otter prints for `grader.check(...)` in the notebook. No hidden case or reference is
needed or used.
"""

from __future__ import annotations

from grader import judge
from grader.config import CheckConfig
from grader.errors import GraderError
from grader.grade.submission import grade_submission
from grader.labs import get_lab
from grader.results import QuestionStatus, SubmissionResult, SubmissionStatus
from grader.sandbox import for_checking
from grader.sandbox.isolation import SandboxFailed

__all__ = ["main", "run_check", "FileNotChecked"]


class FileNotChecked(GraderError):
    """The file to check is not there, or the checker itself could not start a process for it."""


#: Questions whose tests did not all run: otter's summary would not say why.
_NOT_JUDGED = (QuestionStatus.TIMEOUT, QuestionStatus.CRASHED, QuestionStatus.NOT_RUN)


def run_check(config: CheckConfig) -> tuple[SubmissionResult, str]:
    """Grade `config.file` on the public tests; returns the result and the text to print."""
    if not config.file.is_file():
        raise FileNotChecked(f"file not found: {config.file}")
    lab = get_lab(config.lab)
    test_files = judge.load_tests(lab, hidden=False)
    isolation = for_checking()
    # As `grader.check` in the notebook: the public tests with the student's own helpers, none standing
    # in, so what a wrong helper breaks shows where it is used too.
    try:
        result = grade_submission(config.file, lab, test_files, limits=config.limits, isolation=isolation,
                                  stand_in=False)
    except SandboxFailed as error:
        raise FileNotChecked(f"the checker could not start a Python process for your file, so nothing was "
                             f"checked. This is a problem of the checker or of this machine, not of your "
                             f"code: {error.reason}") from None
    lines = [f"{lab.id}: {lab.title}", f"Checking {config.file.name} with the public tests."]
    if not isolation.confined:
        lines.append("(Ran without a sandbox: bubblewrap is not available here. Fine for your own code.)")
    elif not isolation.sandboxed:
        lines.append("(Ran as a separate unprivileged user: bubblewrap may not work in this container.)")
    lines.append("")
    if result.status is SubmissionStatus.UNREADABLE:
        lines += [result.message, ""]
    for note in result.notes:
        lines.append(f"Note: {note}")
    if result.notes:
        lines.append("")
    for test_file, question in zip(test_files, result.questions, strict=True):
        if question.status in _NOT_JUDGED:
            lines.append(f"{question.name} results: {question.message}")
        else:
            lines.append(test_file.summary(public_only=True))
        lines.append("")
    lines.append(f"Public tests: {result.score:g} / {result.max_score:g} points.")
    lines.append("The autograder also runs hidden tests on more inputs, so passing here is a good sign, "
                 "not a guarantee.")
    return result, "\n".join(lines)


def main(config: CheckConfig) -> int:
    """0 when every public test passes, 1 when not (a result); a missing file or unknown lab raises."""
    result, text = run_check(config)
    print(text)
    return 0 if result.score == result.max_score else 1
