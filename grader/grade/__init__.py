"""`grader grade LAB SUBMISSIONS -o OUT`: grade every submission in a folder, in a batch.

Each submission is graded on its own (its own worker, its own copy of the tests) and its
result, HTML report and Markdown report are written as soon as they are known. The class's
grades.csv and summary.html come last. A submission can only ever cost its own grade.
"""

from __future__ import annotations

import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from grader import export, judge, report
from grader.config import GradeConfig
from grader.grade.submission import grade_submission, internal_error_result
from grader.labs import Lab, UnknownLab, get_lab
from grader.load import SUFFIXES
from grader.sandbox.isolation import UNSAFE_FLAG, Isolation, SandboxUnavailable, choose
from grader.sandbox.session import Limits

__all__ = ["main", "grade_batch", "find_submissions"]

log = logging.getLogger(__name__)


class GradingError(Exception):
    """The grader itself cannot run (unknown lab, missing folder): exit non-zero."""


def find_submissions(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise GradingError(f"submissions folder not found: {folder}")
    files = [p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file() and not p.name.startswith(".")]
    return sorted(files, key=lambda p: p.name)


def _student_ids(files: list[Path]) -> dict[Path, str]:
    """Student id = file stem; alice.py and alice.ipynb both present get distinct ids."""
    stems = [p.stem for p in files]
    return {p: (p.stem if stems.count(p.stem) == 1 else f"{p.stem}{p.suffix.replace('.', '_')}") for p in files}


def grade_one(path: Path, student: str, lab: Lab, output: Path, limits: Limits, isolation: Isolation) -> dict:
    test_files = judge.load_tests(lab, hidden=True)
    try:
        result = grade_submission(path, lab, test_files, limits=limits, isolation=isolation)
    except Exception as error:  # noqa: BLE001 - a grader bug costs this submission only
        log.exception("internal error while grading %s", path.name)
        result = internal_error_result(path, lab, test_files, isolation, error)
    result["student"] = student
    export.write_result(output, result)
    html, markdown = report.render_student_report(result)
    export.write_atomic(output / "reports" / f"{student}.html", html)
    export.write_atomic(output / "reports" / f"{student}.md", markdown)
    return result


def grade_batch(config: GradeConfig, isolation: Isolation | None = None) -> list[dict]:
    lab = get_lab(config.lab)
    files = find_submissions(config.submissions)
    isolation = isolation or choose(unsafe_no_sandbox=config.unsafe_no_sandbox)
    if not isolation.sandboxed:
        print(f"WARNING ({UNSAFE_FLAG}): student code runs WITHOUT a sandbox, with your rights; "
              "results record isolation 'process'.", file=sys.stderr)
    ids = _student_ids(files)
    config.output.mkdir(parents=True, exist_ok=True)
    if config.jobs > 1:
        # Submissions already run side by side; torch's own thread pool on top would oversubscribe.
        torch.set_num_threads(1)

    def work(path: Path) -> dict:
        result = grade_one(path, ids[path], lab, config.output, config.limits, isolation)
        log.info("%s: %g / %g (%s)", ids[path], result["score"], result["max_score"], result["status"])
        return result

    with ThreadPoolExecutor(max_workers=max(1, config.jobs)) as pool:
        results = list(pool.map(work, files))
    export.write_atomic(config.output / "grades.csv", export.grades_csv(results, lab.questions))
    export.write_atomic(config.output / "summary.html", report.render_summary(lab.id, results))
    return results


def main(config: GradeConfig) -> int:
    try:
        results = grade_batch(config)
    except (GradingError, UnknownLab, SandboxUnavailable) as error:
        print(f"grader grade: {error}", file=sys.stderr)
        return 2
    unreadable = sum(r["status"] == "unreadable" for r in results)
    print(f"Graded {len(results)} submission(s) for {config.lab} ({unreadable} unreadable).")
    for result in results:
        if "grader_error" in result:
            print(f"  warning: the grader failed on {result['student']}: {result['grader_error']}", file=sys.stderr)
    for result in sorted(results, key=lambda r: r["student"]):
        print(f"  {result['student']:<24} {result['score']:g} / {result['max_score']:g}  {result['status']}")
    print(f"Reports: {config.output / 'reports'}\nGrades:  {config.output / 'grades.csv'}\nSummary: {config.output / 'summary.html'}")
    return 0
