"""`grader grade LAB SUBMISSIONS -o OUT`: grade every submission in a folder, in a batch.

Each submission is graded on its own (its own worker, its own copy of the tests). Its HTML
and Markdown reports, then its result, are written atomically as soon as they are known, so a
batch that is stopped at any point loses nothing already graded; a rerun resumes (see
`resume`). The class's grades.csv and summary.html come last, then run.json, the one file that
records this run's times. A submission can only ever cost its own grade.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

import grader
from grader import export, judge, report
from grader.config import GradeConfig
from grader.errors import GraderError
from grader.grade import resume
from grader.grade.submission import grade_submission, internal_error_result
from grader.labs import SUPPORT, Lab, get_lab
from grader.load import SUFFIXES
from grader.results import SubmissionResult, SubmissionStatus
from grader.sandbox import UNSAFE_FLAG, Isolation, choose
from grader.sandbox.pool import SandboxPool
from grader.sandbox.session import Limits

__all__ = ["main", "grade_batch", "find_submissions"]

log = logging.getLogger(__name__)


class GradingError(GraderError):
    """The batch cannot be graded as asked (a missing submissions folder)."""


def find_submissions(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise GradingError(f"submissions folder not found: {folder}")
    files = [p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file() and not p.name.startswith(".")]
    return sorted(files, key=lambda p: p.name)


def _student_ids(files: list[Path]) -> dict[Path, str]:
    """Student id = file stem; alice.py and alice.ipynb both present get distinct ids."""
    stems = [p.stem for p in files]
    return {p: (p.stem if stems.count(p.stem) == 1 else f"{p.stem}{p.suffix.replace('.', '_')}") for p in files}


def grade_one(path: Path, student: str, lab: Lab, output: Path, limits: Limits, isolation: Isolation,
              fingerprint: str = "", pool: SandboxPool | None = None) -> SubmissionResult:
    sha256 = resume.file_sha256(path)
    test_files = judge.load_tests(lab, hidden=True)
    try:
        result = grade_submission(path, lab, test_files, limits=limits, isolation=isolation, pool=pool)
    except Exception as error:  # noqa: BLE001 - a grader bug costs this submission only
        log.exception("internal error while grading %s", path.name)
        result = internal_error_result(path, lab, test_files, isolation, error)
    result.student = student
    result.submission.sha256 = sha256
    result.grader.material = fingerprint
    _write_reports(output, result)
    export.write_result(output, result)  # last: its presence marks the submission as done
    return result


def _write_reports(output: Path, result: SubmissionResult) -> None:
    html, markdown = report.render_student_report(result)
    export.write_atomic(output / "reports" / f"{result.student}.html", html)
    export.write_atomic(output / "reports" / f"{result.student}.md", markdown)


def _reuse(output: Path, path: Path, student: str, fingerprint: str) -> SubmissionResult | None:
    result = resume.stored_result(output, student, resume.file_sha256(path), fingerprint)
    if result is not None and not all((output / "reports" / f"{student}.{s}").is_file() for s in ("html", "md")):
        _write_reports(output, result)
    return result


def grade_batch(config: GradeConfig, isolation: Isolation | None = None) -> list[SubmissionResult]:
    lab = get_lab(config.lab)
    files = find_submissions(config.submissions)
    isolation = isolation or choose(unsafe_no_sandbox=config.unsafe_no_sandbox)
    if not isolation.sandboxed:
        print(f"WARNING ({UNSAFE_FLAG}): student code runs WITHOUT a sandbox, with your rights; "
              "results record isolation 'process'.", file=sys.stderr)
    ids = _student_ids(files)
    config.output.mkdir(parents=True, exist_ok=True)
    resume.remove_temporaries(config.output)
    fingerprint = resume.material_fingerprint(lab)
    started = _now()
    if config.jobs > 1:
        # Submissions already run side by side; torch's own thread pool on top would oversubscribe.
        torch.set_num_threads(1)
    reused: dict[Path, SubmissionResult] = {}
    if not config.force:
        reused = {p: r for p in files if (r := _reuse(config.output, p, ids[p], fingerprint)) is not None}

    warm = _warm_pool(config, isolation)

    def work(path: Path) -> SubmissionResult:
        if path in reused:
            return reused[path]
        result = grade_one(path, ids[path], lab, config.output, config.limits, isolation, fingerprint, warm)
        log.info("%s: %g / %g (%s)", ids[path], result.score, result.max_score, result.status)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, config.jobs)) as threads:
            results = list(threads.map(work, files))
    finally:
        if warm is not None:
            warm.close()
    export.write_atomic(config.output / "grades.csv", export.grades_csv(results, lab.question_names))
    export.write_atomic(config.output / "summary.html", report.render_summary(lab.id, results))
    run = {
        "lab": lab.id, "grader": grader.__version__, "torch": torch.__version__, "isolation": isolation.name,
        "material": fingerprint, "started": started, "finished": _now(), "submissions": len(files),
        "graded": len(files) - len(reused), "reused": sorted(ids[p] for p in reused), "forced": config.force,
        "warm": warm is not None,
    }
    export.write_atomic(config.output / "run.json", json.dumps(run, indent=2) + "\n")
    return results


def _warm_pool(config: GradeConfig, isolation: Isolation) -> SandboxPool | None:
    """The warm sandboxes (one per slot, started as needed), when asked for and there is a sandbox."""
    if not config.warm or not isolation.sandboxed:
        return None
    return SandboxPool(isolation, config.limits, [SUPPORT])


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def main(config: GradeConfig) -> int:
    """Grade the batch and print a summary; 0 once every submission has a result.

    What stops the batch (unknown lab, missing folder, no sandbox) is raised as a GraderError.
    """
    results = grade_batch(config)
    unreadable = sum(r.status is SubmissionStatus.UNREADABLE for r in results)
    reused = len(json.loads((config.output / "run.json").read_text())["reused"])
    print(f"Graded {len(results)} submission(s) for {config.lab} ({unreadable} unreadable).")
    if reused:
        print(f"  {reused} of them were already graded in {config.output} and were not graded again "
              "(use --force to regrade everything).")
    for result in results:
        if result.grader_error is not None:
            print(f"  warning: the grader failed on {result.student}: {result.grader_error}", file=sys.stderr)
    for result in sorted(results, key=lambda r: r.student):
        print(f"  {result.student:<24} {result.score:g} / {result.max_score:g}  {result.status}")
    print(f"Reports: {config.output / 'reports'}\nGrades:  {config.output / 'grades.csv'}\nSummary: {config.output / 'summary.html'}")
    return 0
