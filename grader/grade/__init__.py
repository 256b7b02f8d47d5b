"""`grader grade LAB SUBMISSIONS -o OUT`: grade every submission in a folder, in a batch.

Each submission is graded on its own (its own worker, its own test-file objects). What does not
depend on the submission is done once per batch: the lab's test files are parsed once
(`judge.ParsedTests`) and the reference's answers to the hidden cases are memoised
(`grader.memo`). A submission's HTML and Markdown reports, then its result, are written
atomically by a separate thread while the next submissions are graded, so a batch that is
stopped at any point loses nothing already written; a rerun resumes (see `resume`). The class's
grades.csv and summary.html come last, then run.json, the one file that records this run's times
(and where they went, `grader.timing`). A submission can only ever cost its own grade.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import torch

import grader
from grader import export, judge, report, timing
from grader.config import GradeConfig
from grader.errors import GraderError
from grader.grade import naming, resume
from grader.grade.submission import grade_submission, internal_error_result
from grader.labs import SUPPORT, Lab, get_lab
from grader.load import SUFFIXES
from grader.memo import ReferenceMemo
from grader.progress import Progress
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
    return naming.newest_only(sorted(files, key=lambda p: p.name))


def _student_ids(files: list[Path]) -> dict[Path, str]:
    """Student id = file stem, or the Canvas user id of a Canvas file name (`naming`)."""
    return naming.student_ids(files)


def _only(files: list[Path], ids: dict[Path, str], only: tuple[str, ...]) -> list[Path]:
    """The files of the students in `only` (all files when it is empty); an unknown student stops the batch."""
    if not only:
        return files
    unknown = sorted(set(only) - set(ids.values()))
    if unknown:
        raise GradingError(f"--only: no submission of {', '.join(unknown)} in the submissions folder "
                           f"(its students: {', '.join(sorted(ids.values())) or 'none'})")
    return [p for p in files if ids[p] in only]


def grade_one(path: Path, student: str, lab: Lab, output: Path, limits: Limits, isolation: Isolation,
              fingerprint: str = "", tests: judge.ParsedTests | None = None,
              pool: SandboxPool | None = None) -> SubmissionResult:
    """Grade one file and write its reports and result (the result last)."""
    result = _grade(path, student, lab, limits, isolation, fingerprint,
                    tests or judge.ParsedTests(lab, hidden=True), pool)
    _write_outputs(output, result)
    return result


def _grade(path: Path, student: str, lab: Lab, limits: Limits, isolation: Isolation, fingerprint: str,
           tests: judge.ParsedTests, pool: SandboxPool | None = None) -> SubmissionResult:
    """The result of one file, not yet written; `tests` are the batch's, parsed once; `pool` the warm
    sandboxes, when grading warm."""
    sha256 = resume.file_sha256(path)
    test_files = tests.fresh()  # this submission's own records, over the batch's parsed cases
    try:
        result = grade_submission(path, lab, test_files, limits=limits, isolation=isolation, pool=pool)
    except Exception as error:  # a grader bug costs this submission only
        log.exception("internal error while grading %s", path.name)
        result = internal_error_result(path, lab, test_files, isolation, error)
    result.student = student
    result.submission.sha256 = sha256
    result.grader.material = fingerprint
    return result


def _write_outputs(output: Path, result: SubmissionResult) -> None:
    _write_reports(output, result)
    export.write_result(output, result)  # last: its presence marks the submission as done


def _write_reports(output: Path, result: SubmissionResult) -> None:
    html, markdown = report.render_student_report(result)
    export.write_atomic(output / "reports" / f"{result.student}.html", html)
    export.write_atomic(output / "reports" / f"{result.student}.md", markdown)


def _reuse(output: Path, path: Path, student: str, fingerprint: str) -> SubmissionResult | None:
    result = resume.stored_result(output, student, resume.file_sha256(path), fingerprint)
    if result is not None and not all((output / "reports" / f"{student}.{s}").is_file() for s in ("html", "md")):
        _write_reports(output, result)
    return result


def grade_batch(config: GradeConfig, isolation: Isolation | None = None,
                progress: Progress | None = None) -> list[SubmissionResult]:
    """Grade every submission of `config.submissions`; their results, in file-name order.

    The lab's test files are parsed once for the batch, and the reference answers their hidden
    cases once (`grader.memo`); each submission still gets test-file objects of its own. Grading
    runs `config.jobs` submissions at once; a separate thread renders and writes each
    submission's reports and then its result, while the next submissions are graded.
    """
    lab = get_lab(config.lab)
    files = find_submissions(config.submissions)
    ids = _student_ids(files)
    files = _only(files, ids, config.only)
    isolation = isolation or choose(unsafe_no_sandbox=config.unsafe_no_sandbox)
    if not isolation.sandboxed:
        print(f"WARNING ({UNSAFE_FLAG}): student code runs WITHOUT a sandbox, with your rights; "
              "results record isolation 'process'.", file=sys.stderr)
    config.output.mkdir(parents=True, exist_ok=True)
    resume.remove_temporaries(config.output)
    fingerprint = resume.material_fingerprint(lab)
    memo = ReferenceMemo()
    tests = judge.ParsedTests(lab, hidden=True, memo=memo)
    started, clock = _now(), time.perf_counter()
    start_up = timing.process_age()
    jobs = max(1, config.jobs)
    if jobs > 1:
        # Submissions already run side by side; torch's own thread pool on top would oversubscribe.
        torch.set_num_threads(1)
    reused: dict[Path, SubmissionResult] = {}
    if not config.force and not config.only:
        reused = {p: r for p in files if (r := _reuse(config.output, p, ids[p], fingerprint)) is not None}
    if progress is not None:
        progress.start(len(files))
    phases: dict[str, dict[str, float]] = {}

    warm = _warm_pool(config, isolation, to_grade=len(files) - len(reused))

    def write(result: SubmissionResult, spent: dict[str, float]) -> None:
        begun = time.perf_counter()
        _write_outputs(config.output, result)
        spent["report"] = time.perf_counter() - begun
        if progress is not None:
            progress.done(result)

    def work(path: Path) -> tuple[SubmissionResult, Future | None]:
        if path in reused:
            if progress is not None:
                progress.done(reused[path], reused=True)
            return reused[path], None
        with timing.submission() as spent:
            begun = time.perf_counter()
            result = _grade(path, ids[path], lab, config.limits, isolation, fingerprint, tests, warm)
            graded = time.perf_counter() - begun
        spent["load"] = max(0.0, graded - spent.get("judge", 0.0) - spent.get("diagnose", 0.0))
        phases[ids[path]] = spent
        log.info("%s: %g / %g (%s)", ids[path], result.score, result.max_score, result.status)
        return result, writer.submit(write, result, spent)

    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reports") as writer:
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade") as pool:
                graded = list(pool.map(work, files))
            for _, written in graded:
                if written is not None:
                    written.result()  # a report or result that could not be written stops the batch
    finally:
        if progress is not None:
            progress.close()
        if warm is not None:
            warm.close()
    results = [result for result, _ in graded]
    whole_class = resume.stored_class(config.output, lab, results) if config.only else results
    export.write_atomic(config.output / "grades.csv", export.grades_csv(whole_class, lab.question_names))
    export.write_atomic(config.output / "items.csv", export.items_csv(whole_class))
    export.write_atomic(config.output / "summary.html", report.render_summary(lab.id, whole_class))
    run = {
        "lab": lab.id, "grader": grader.__version__, "torch": torch.__version__, "isolation": isolation.name,
        "material": fingerprint, "started": started, "finished": _now(), "submissions": len(files),
        "graded": len(files) - len(reused), "reused": sorted(ids[p] for p in reused), "forced": config.force,
        "jobs": jobs, "warm": warm is not None, "timing": _timing(start_up, time.perf_counter() - clock, phases, memo),
    }
    export.write_atomic(config.output / "run.json", json.dumps(run, indent=2) + "\n")
    return results


def _timing(start_up: float | None, seconds: float, phases: dict[str, dict[str, float]], memo: ReferenceMemo) -> dict:
    """run.json's record of where the time went (grader.timing); results never hold times."""
    return {
        "start": None if start_up is None else round(start_up, 4),
        "batch": round(seconds, 4),
        "submissions": {student: {name: round(spent.get(name, 0.0), 4) for name in timing.PHASES[1:]}
                        for student, spent in sorted(phases.items())},
        "reference_memo": memo.stats(),
    }


def _warm_pool(config: GradeConfig, isolation: Isolation, to_grade: int) -> SandboxPool | None:
    """The warm sandboxes, one per slot, already starting; None when grading cold or without a sandbox."""
    if not config.warm or not isolation.sandboxed:
        return None
    pool = SandboxPool(isolation, config.limits, [SUPPORT])
    pool.prestart(min(max(1, config.jobs), to_grade))
    return pool


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def main(config: GradeConfig) -> int:
    """Grade the batch and print a summary; 0 once every submission has a result.

    What stops the batch (unknown lab, missing folder, no sandbox) is raised as a GraderError.
    """
    results = grade_batch(config, progress=Progress(config.lab))
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
    print(f"Reports: {config.output / 'reports'}\n"
          f"Grades:  {config.output / 'grades.csv'}\n"
          f"Summary: {config.output / 'summary.html'}")
    return 0
