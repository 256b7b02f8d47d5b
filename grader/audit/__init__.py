"""`grader audit LAB`: do the lab's hidden tests catch every catalogued mistake and pass correct code?

The audit writes one program per catalogued mistake that affects the lab (`quant_mistakes.source`:
the course's code with that one mistake) and the catalogue's correct code (the course's code),
plus any correct programs the instructor gives (`--correct FILE`), into a folder, and grades that
folder as `grade` would: the same grading path, in the sandbox, against the hidden tests. It then
reports two kinds of finding:

- a mistake the tests miss: the mistake's program scores full marks on a question it affects;
- a correct program that fails: it loses marks on a question.

A program that could not be graded at all is a finding too, so an audit that did not run never
reads as clean. Exit status 0 when there is no finding, 1 when there is one.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.config import AuditConfig, GradeConfig
from grader.errors import GraderError
from grader.labs import Lab, get_lab, make_tests_importable
from grader.results import SubmissionResult, SubmissionStatus

__all__ = ["main", "audit", "findings", "programs", "Program", "Finding", "FOUND"]

#: Exit status when the audit found something.
FOUND = 1
_MISTAKE, _CORRECT = "mistake-", "correct-"


class AuditNotRun(GraderError):
    """The audit cannot run as asked (a correct program that is not there)."""


@dataclass(frozen=True)
class Finding:
    program: str  # Program.name
    question: str  # "" when the program could not be graded at all
    problem: str  # what is wrong, for the instructor

    def __str__(self) -> str:
        where = f" on {self.question}" if self.question else ""
        return f"{self.program}{where}: {self.problem}"


@dataclass(frozen=True)
class Program:
    name: str  # "mistake <key>" or "correct program (<where it comes from>)"
    content: bytes
    affects: tuple[str, ...] | None  # the questions a mistake must lose marks on; None: a correct program


def programs(lab: Lab, correct: tuple[Path, ...]) -> dict[str, Program]:
    """File name -> program: the lab's catalogued mistakes, the course code, the given correct programs."""
    make_tests_importable()
    import quant_mistakes

    found = {f"{_MISTAKE}{key.replace('/', '--')}.py": Program(f"mistake {key}", quant_mistakes.source(key).encode(),
                                                                mistake.affects[lab.id])
             for key, mistake in quant_mistakes.MISTAKES.items() if lab.id in mistake.affects}
    found[f"{_CORRECT}course-code.py"] = Program("correct program (the catalogue's course code)",
                                                 quant_mistakes.source(None).encode(), None)
    for path in correct:
        if not path.is_file():
            raise AuditNotRun(f"correct program not found: {path}")
        found[f"{_CORRECT}{len(found)}{path.suffix}"] = Program(f"correct program ({path})",
                                                                            path.read_bytes(), None)
    return found


def audit(config: AuditConfig) -> tuple[list[Finding], int, str]:
    """The findings, how many programs were graded, and the isolation they ran in."""
    lab = get_lab(config.lab)
    written = programs(lab, config.correct)
    with tempfile.TemporaryDirectory(prefix=f"audit-{lab.id}-") as scratch:
        folder, output = Path(scratch) / "programs", Path(scratch) / "graded"
        folder.mkdir()
        for name, program in written.items():
            (folder / name).write_bytes(program.content)
        from grader.grade import grade_batch

        results = grade_batch(GradeConfig(lab=lab.id, submissions=folder, output=output, jobs=config.jobs,
                                          limits=config.limits, force=True,
                                          unsafe_no_sandbox=config.unsafe_no_sandbox))
        shutil.rmtree(folder)
    return findings(results, written), len(results), results[0].grader.isolation if results else "?"


def findings(results: list[SubmissionResult], written: dict[str, Program]) -> list[Finding]:
    """What the audit finds in graded programs; `written` maps each result's file name to its program."""
    return [finding for result in results for finding in _findings(result, written[result.submission.file])]


def _findings(result: SubmissionResult, program: Program) -> list[Finding]:
    if result.status is not SubmissionStatus.GRADED or result.grader_error:
        return [Finding(program.name, "", f"could not be graded: {result.grader_error or result.message}")]
    if program.affects is not None:
        return [Finding(program.name, q.name, f"scores full marks ({q.score:g} / {q.max_score:g}): no test catches it")
                for q in result.questions if q.name in program.affects and _own_score(q) >= q.max_score]
    found = []
    for question in result.questions:
        if question.score < question.max_score:
            failed = [f"{t.name}: {t.message}" for t in question.tests if not t.passed]
            detail = "; ".join(failed) or question.message
            found.append(Finding(program.name, question.name,
                                 f"loses marks ({question.score:g} / {question.max_score:g}): {detail[:500]}"))
    return found


def _own_score(question) -> float:
    """What the question scored with the program's own helpers: a mistake in a helper is caught where it
    costs marks, even when the question then earns them back with the reference helper (grader.own_logic)."""
    return question.score if question.score_with_own_helpers is None else question.score_with_own_helpers


def main(config: AuditConfig) -> int:
    """Print the audit; 0 when nothing is found, 1 when something is."""
    findings, graded, isolation = audit(config)
    print(f"Audit of {config.lab}: {graded} program(s) graded against the hidden tests ({isolation}).")
    if not findings:
        print("Every catalogued mistake loses marks on the questions it affects, "
              "and every correct program scores full marks.")
        return 0
    print(f"{len(findings)} finding(s):")
    for finding in findings:
        print(f"  - {finding}")
    return FOUND
