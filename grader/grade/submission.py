"""One submission's whole path: load, run in the worker, judge and diagnose each question, build the result."""

from __future__ import annotations

import time
from pathlib import Path

import torch

import grader
from grader import judge, own_logic
from grader.diagnose import diagnose
from grader.grade import naming
from grader.labs import SUPPORT, Lab
from grader.load import Program, Unreadable, Upload, load_submission
from grader.results import (
    GraderInfo,
    QuestionResult,
    QuestionStatus,
    SubmissionInfo,
    SubmissionResult,
    SubmissionStatus,
    TestResult,
)
from grader.sandbox import Isolation, choose
from grader.sandbox.pool import SandboxPool
from grader.sandbox.session import Limits, SandboxFailed, WorkerLost, WorkerSession


def grade_submission(path: Path | Upload, lab: Lab, test_files: list, *, limits: Limits,
                     isolation: Isolation | None = None, pool: SandboxPool | None = None,
                     stand_in: bool = True) -> SubmissionResult:
    """The result of one file, or of its uploaded bytes (`grader.results`); never raises for anything it holds,
    but raises `SandboxFailed` when the sandbox fails before the student's code runs (the caller retries).

    `test_files` come from `judge.load_tests` and record each case's outcome as otter would.
    Without `isolation`, the sandbox is used, or `SandboxUnavailable` raised. With `pool`, its
    warm sandboxes run the worker (the same sandbox, started once per slot; see pool.py). With
    `stand_in`, a question that fails runs again with reference helpers (`grader.own_logic`).
    """
    isolation = pool.isolation if pool is not None else isolation or choose()
    result = _empty_result(path, lab, test_files, isolation)
    try:
        program = load_submission(path)
    except Unreadable as error:
        return _unreadable(result, str(error), test_files)
    result.submission.kind, result.submission.sha256 = program.kind, program.sha256
    result.questions, notes = _run_and_judge(lab, program, test_files, limits, isolation, pool, stand_in)
    result.notes = program.notes + notes
    result.score = float(sum(q.score for q in result.questions))
    return result


def _run_and_judge(lab: Lab, program: Program, test_files, limits: Limits, isolation: Isolation,
                   pool: SandboxPool | None, stand_in: bool):
    questions, notes = [], []
    cannot_run: str | None = None  # once running the program fails, it is not tried again
    with WorkerSession(program.cells, support=[SUPPORT], limits=limits, isolation=isolation, pool=pool) as session:
        for test_file in test_files:
            if cannot_run is None and session.out_of_time:
                cannot_run = (f"Not run: a whole submission may take at most {limits.submission:g} seconds, "
                              "and that time ran out.")
            if cannot_run is None and not session.alive:
                try:
                    report = session.start()  # not inside `notes or ...`: a restart must happen every time
                    notes = notes or _load_notes(report, program.kind)
                except WorkerLost as error:
                    cannot_run = f"Your code could not be run: {error.reason}"
            if cannot_run is not None:
                status = QuestionStatus.TIMEOUT if session.out_of_time else QuestionStatus.CRASHED
                questions.append(_not_run(test_file, cannot_run, status))
                continue
            question = judge.judge_question(test_file, session, budget=limits.question)
            if stand_in:
                question = own_logic.judge_on_own_logic(lab, question, test_file, session, budget=limits.question)
            if question.status is QuestionStatus.OK and question.score < question.max_score and session.alive:
                _diagnose(lab, question, session, limits)
            questions.append(question)
    return questions, notes


def _diagnose(lab: Lab, question: QuestionResult, session: WorkerSession, limits: Limits) -> None:
    deadline = time.monotonic() + limits.question
    session.budget = f"{question.name} (diagnosis)"
    found = diagnose(lab.id, question.name, lambda name: judge.StudentFunction(session, name, deadline))
    if found:
        question.mistake, question.diagnosis = found


def _load_notes(report, kind: str) -> list[str]:
    notes = []
    for error in report.cell_errors:
        line = f", line {error['line']}" if error.get("line") else ""
        if kind == "notebook":
            notes.append(f"Cell {error.get('cell')}{line} raised {error.get('type')}: {error.get('message')}. "
                         "Later cells still ran.")
        else:
            notes.append(f"Your script raised {error.get('type')}: {error.get('message')} "
                         f"(at{line.lstrip(',')}); the rest of it did not run.")
    return notes + list(report.notes)


def _not_run(test_file, reason: str, status: QuestionStatus = QuestionStatus.CRASHED) -> QuestionResult:
    tests = [
        TestResult(name=c.name, hidden=bool(c.hidden), passed=False, score=0.0,
                   max_score=float(c.points or 0), message=reason)
        for c in test_file.test_cases
    ]
    return QuestionResult(name=test_file.name, score=0.0, max_score=float(test_file.possible),
                          status=status, message=reason, tests=tests)


def _empty_result(path: Path | Upload, lab: Lab, test_files, isolation: Isolation) -> SubmissionResult:
    return SubmissionResult(
        student=path.stem,
        lab=lab.id,
        max_score=float(sum(t.possible for t in test_files)),
        submission=SubmissionInfo(file=path.name, late=naming.parse(path.name).late),
        grader=GraderInfo(version=grader.__version__, torch=torch.__version__, isolation=isolation.name),
    )


#: What a student reads when the grader, not their code, failed: no score, no blame.
INTERNAL_ERROR_MESSAGE = ("The grader ran into a problem of its own, so your submission has not been graded yet. "
                          "This is not your fault, and nothing was marked wrong: your instructor has been told "
                          "and will grade it again.")


def internal_error_result(path: Path | Upload, lab: Lab, test_files, isolation: Isolation | None,
                          error: Exception) -> SubmissionResult:
    """The result when the grader or its sandbox failed on this file: no grade (status "internal_error"),
    what broke kept for the instructor, and the next run grades it again."""
    result = _empty_result(path, lab, test_files, isolation or Isolation())
    result.status = SubmissionStatus.INTERNAL_ERROR
    result.message = INTERNAL_ERROR_MESSAGE
    result.questions = [_not_run(t, "Not graded yet: the grader failed, not your code.", QuestionStatus.NOT_RUN)
                        for t in test_files]
    detail = error.reason if isinstance(error, SandboxFailed) else f"{type(error).__name__}: {error}"
    result.grader_error = detail[:4000]
    return result


def unreadable_result(path: Path, lab: Lab, test_files, isolation: Isolation | None, message: str) -> SubmissionResult:
    """The result of a file that could not be graded at all (or is not there), saying why: scores 0."""
    return _unreadable(_empty_result(path, lab, test_files, isolation or Isolation()), message, test_files)


def _unreadable(result: SubmissionResult, message: str, test_files) -> SubmissionResult:
    result.status = SubmissionStatus.UNREADABLE
    result.message = message
    result.questions = [_not_run(t, "Not graded: the file could not be read.", QuestionStatus.NOT_RUN)
                        for t in test_files]
    return result
