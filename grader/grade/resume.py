"""Rerunning a batch picks up where it stopped.

A submission's result file is written last, after its reports, and atomically: its presence
means the submission was graded completely. On a rerun, a stored result is reused when it
graded the same bytes (sha256 of the file) with the same grading material (tests, reference,
support package, grader code and templates); anything else is graded again. `--force` regrades
everything.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from grader import export
from grader.labs import REFERENCE, ROOT, SUPPORT, Lab
from grader.results import SCHEMA_VERSION, SubmissionResult

#: Where the code that decides a grade lives, besides the lab's own test files.
_MATERIAL = (REFERENCE, SUPPORT, ROOT / "grader", ROOT / "templates")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def material_fingerprint(lab: Lab) -> str:
    """A hash of everything that decides `lab`'s grades; it changes when any of it changes."""
    digest = hashlib.sha256(lab.id.encode())
    for question in lab.question_names:
        digest.update(lab.test_source(question, hidden=True).encode("utf-8"))
    for folder in _MATERIAL:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and _is_source(p)):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _is_source(path: Path) -> bool:
    return "__pycache__" not in path.parts and path.suffix in (".py", ".j2", ".css", ".json")


def stored_result(output: Path, student: str, sha256: str, fingerprint: str) -> SubmissionResult | None:
    """The result already on disk for `student`, if it graded this file with this material."""
    path = output / "results" / f"{student}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        result = SubmissionResult.from_dict(stored) if isinstance(stored, dict) else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None  # unreadable, or not a result
    if result is None or stored.get("schema_version") != SCHEMA_VERSION:
        return None
    if not result.graded or result.grader_error is not None:
        return None  # a grader failure (an internal error) is always worth another try
    if result.submission.sha256 != sha256 or result.grader.material != fingerprint:
        return None
    return result


def remove_temporaries(output: Path) -> int:
    """Delete half-written files left by a run that was killed mid-write; returns how many."""
    removed = 0
    for path in output.rglob(".*.tmp"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def stored_class(output: Path, lab: Lab, fresh: list[SubmissionResult]) -> list[SubmissionResult]:
    """The whole class after a partial run (`grade --only`): `fresh` results, and every other
    student's result of `lab` as stored in `output`, in student order."""
    by_student = {result.student: result for result in export.read_results(output) if result.lab == lab.id}
    by_student.update({result.student: result for result in fresh})
    return [by_student[student] for student in sorted(by_student)]
