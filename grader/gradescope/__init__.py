"""`grader gradescope LAB [--root /autograder]`: grade the one upload in Gradescope's container.

Gradescope's layout (its autograder specification): ROOT/source holds the autograder zip (`grader
build` writes it as dist/gradescope/<LAB>.zip), ROOT/submission the student's upload, and
ROOT/results/results.json is what Gradescope reads back. The upload is the one notebook or `.py`
file in submission/, whatever its name; it takes `grade`'s path (`grader.grade.submission`), and
its result becomes results.json (`grader.gradescope.results`).

The student's code runs in the bubblewrap sandbox when bubblewrap works in the container, and
otherwise as the unprivileged uid 65534 (`grader.sandbox.for_gradescope`), never as a bare
process; results.json records which, and why. Either way ROOT/results is root's and ROOT/source
is readable by root alone before any student code runs.

Before the upload is graded, the course's own code is graded the same way and must score full marks
(`grader.grade.self_test`). results.json is always written, atomically, and holds only JSON (the
student's output never reaches it). When the grader itself fails (the self-test, the sandbox while
grading, or anything else of its own), results.json tells the student it is not their fault and that
its 0 is no grade, and the command stops with a `GraderError` (exit status 2, the reason on stderr),
so Gradescope shows the run as failed and the instructor can regrade it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

from grader import judge
from grader.config import GradescopeConfig
from grader.errors import GraderError
from grader.export import write_atomic
from grader.grade import self_test
from grader.grade.local import graded_or_internal_error
from grader.grade.submission import unreadable_result
from grader.gradescope.results import grader_failure, gradescope_results
from grader.labs import Lab, get_lab
from grader.load import SUFFIXES, Upload
from grader.memo import ReferenceMemo
from grader.sandbox import for_gradescope

__all__ = ["main", "find_upload", "GradescopeFailed"]

#: Folders an upload may carry that hold no submission (macOS zips, Jupyter's autosaves).
_NOT_SUBMITTED = {"__MACOSX", ".ipynb_checkpoints", "__pycache__"}


class GradescopeFailed(GraderError):
    """The grader itself failed on Gradescope (results.json says so and scores 0)."""


def main(config: GradescopeConfig) -> int:
    """Grade ROOT/submission into ROOT/results/results.json; 0 once it is written with a grade."""
    begun = time.monotonic()
    try:
        payload, summary = _grade(config)
        text = _json(payload, begun)
    except Exception as error:  # results.json must exist whatever failed; it says so
        if not isinstance(error, GraderError):
            traceback.print_exc()
        reason = f"{type(error).__name__}: {error}"[:1000]
        write_atomic(_results_json(config.root), _json(grader_failure(_failure_message(error), error=reason), begun))
        if isinstance(error, GraderError):
            raise
        raise GradescopeFailed(f"the grader failed ({reason}); results.json says so and scores 0") from error
    write_atomic(_results_json(config.root), text)
    print(summary)
    return 0


def _grade(config: GradescopeConfig) -> tuple[dict, str]:
    lab = get_lab(config.lab)
    tests = judge.ParsedTests(lab, hidden=True, memo=ReferenceMemo())  # the self-test's answers serve the upload
    isolation, note = for_gradescope()
    if note:
        note = f"bubblewrap does not work here ({note}), so the student's code ran as an unprivileged user"
        print(f"python -m grader gradescope: {note}.", file=sys.stderr)
    _protect(config.root)
    self_test.prove(lab, lambda upload: graded_or_internal_error(upload, lab, config.limits, isolation, tests))
    upload, problem = find_upload(config.root / "submission", lab)
    if upload is None:
        result = unreadable_result(Path("submission"), lab, tests.fresh(), isolation, problem)
    else:
        result = graded_or_internal_error(Upload.read(upload), lab, config.limits, isolation, tests)
    if not result.graded:
        raise GradescopeFailed(f"the grader failed on this submission: {result.grader_error}")
    summary = (f"{lab.id}: {result.submission.file} {result.score:g} / {result.max_score:g} ({result.status}); "
               f"isolation {result.grader.isolation}")
    return gradescope_results(result, isolation_note=note), summary


def find_upload(folder: Path, lab: Lab) -> tuple[Path | None, str]:
    """(the one notebook or .py file uploaded, "") or (None, what is wrong, for the student)."""
    how = f"Upload your notebook ({lab.id}.ipynb), or one .py file with your functions, and submit again."
    found = sorted(p for p in folder.rglob("*") if _candidate(p, folder)) if folder.is_dir() else []
    if not found:
        return None, f"We found no notebook (.ipynb) or Python file (.py) in your submission. {how}"
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in found[:10])
        return None, (f"Your submission holds {len(found)} files that could be graded ({names}), and the "
                      f"autograder grades exactly one. {how}")
    return found[0], ""


def _candidate(path: Path, folder: Path) -> bool:
    # A link (to a file, or a folder of the upload linked elsewhere) would have root read what it points to.
    parts = path.relative_to(folder).parts
    return (path.suffix in SUFFIXES and not path.is_symlink() and path.is_file()
            and path.resolve().is_relative_to(folder.resolve())
            and not any(part.startswith(".") or part in _NOT_SUBMITTED for part in parts))


def _protect(root: Path) -> None:
    """Before student code runs: results/ is the grader's alone to write, source/ its alone to read."""
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    os.chown(results, os.geteuid(), os.getegid())
    results.chmod(0o755)
    if (root / "source").is_dir():
        (root / "source").chmod(0o700)


def _results_json(root: Path) -> Path:
    return root / "results" / "results.json"


def _json(payload: dict, begun: float) -> str:
    payload = {**payload, "execution_time": round(time.monotonic() - begun)}
    return json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _failure_message(error: Exception) -> str:
    """For the student: what a setup problem is, but no trace of the grader's own failure (that is in
    extra_data, for the instructor)."""
    if isinstance(error, GraderError) and not isinstance(error, (GradescopeFailed, self_test.SelfTestFailed)):
        return f"The autograder cannot run here: {error}"
    return "The autograder ran into a problem of its own and stopped before it could grade your work."
