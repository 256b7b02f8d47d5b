"""`grader grade LAB SUBMISSIONS -o OUT`: grade every submission in a folder, in a batch.

Each submission is graded on its own (its own worker, its own test-file objects). What does not
depend on the submission is done once per batch: the lab's test files are parsed once
(`judge.ParsedTests`) and the reference's answers to the hidden cases are memoised
(`grader.memo`). Where the submissions are graded is one seam with two sides: threads of this
process (`local.LocalGrading`, the default) or the workers of a Dask cluster
(`cluster.DaskGrading`, `--scheduler`); what the batch does around them is the same either way:
choose the submissions, reuse what an earlier run already graded (see `resume`), write each
submission's HTML and Markdown reports, then its result, atomically on a thread of their own as
soon as it is graded (so a batch stopped at any point loses nothing already written), and at the
end the class's grades.csv and summary.html, then run.json, the one file that records this run's
times (and where they went, `grader.timing`) and what capped its sandboxes (`caps`: a cgroup, or
per-process rlimits only, with why; `grade` warns on stderr when there is no usable cgroup). A
submission can only ever cost its own grade.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import socket
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import torch

import grader
from grader import export, report, timing
from grader.config import GradeConfig
from grader.errors import INTERNAL_ERRORS, GraderError
from grader.grade import naming, resume
from grader.grade.local import Graded, LocalGrading, Submission, warn_unsandboxed
from grader.labs import Lab, get_lab
from grader.load import SUFFIXES
from grader.progress import Progress
from grader.results import SubmissionResult, SubmissionStatus
from grader.sandbox import RLIMITS, Isolation, caps, choose, why_no_cgroup

if TYPE_CHECKING:
    from grader.grade.cluster import DaskGrading

__all__ = ["main", "grade_batch", "find_submissions"]


class GradingError(GraderError):
    """The batch cannot be graded as asked (a missing submissions folder)."""


class BatchStopped(GraderError):
    """The sandbox failed on `STOP_AFTER_INTERNAL_ERRORS` submissions in a row: the batch stopped, what was
    graded is kept, and running the same command again grades the rest."""

    exit_code = INTERNAL_ERRORS


#: Submissions in a row whose grading failed through the grader's fault (each after its retries) that stop
#: the batch: past that, the grader is broken, and grading on would only spend time.
STOP_AFTER_INTERNAL_ERRORS = 3


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


def grade_batch(config: GradeConfig, isolation: Isolation | None = None,
                progress: Progress | None = None) -> list[SubmissionResult]:
    """Grade every submission of `config.submissions`; their results, in file-name order.

    The submissions not already graded go to `_grading` (threads here, or a Dask cluster); each
    result is written as it comes back, by the report thread; the class's files come last.
    """
    lab = get_lab(config.lab)
    files = find_submissions(config.submissions)
    ids = _student_ids(files)
    files = _only(files, ids, config.only)
    started, clock, start_up = _now(), time.perf_counter(), timing.process_age()
    fingerprint = resume.material_fingerprint(lab)
    grading = _grading(config, lab, fingerprint, isolation)
    capped = _caps(grading)
    config.output.mkdir(parents=True, exist_ok=True)
    resume.remove_temporaries(config.output)
    reused = {} if config.force or config.only else _reused(config.output, files, ids, fingerprint)
    pending = [Submission(p, ids[p]) for p in files if p not in reused]
    graded = _grade_and_write(grading, pending, [reused[p] for p in files if p in reused], config.output, progress)
    results = [reused[p] if p in reused else graded[p].result for p in files]
    class_results = resume.stored_class(config.output, lab, results) if config.only else results  # --only: all
    _write_class_files(config.output, lab, class_results)
    run = {
        "lab": lab.id, "grader": grader.__version__, "torch": torch.__version__, "host": socket.gethostname(),
        "material": fingerprint, "started": started, "finished": _now(), "submissions": len(files),
        "graded": len(pending), "reused": sorted(ids[p] for p in reused), "forced": config.force,
        **grading.run_record(), **capped,
        "timing": _timing(start_up, time.perf_counter() - clock, graded, grading.memo_stats()),
    }
    export.write_atomic(config.output / "run.json", json.dumps(run, indent=2) + "\n")
    return results


def _grade_and_write(grading: LocalGrading | DaskGrading, pending: list[Submission], reused: list[SubmissionResult],
                     output: Path, progress: Progress | None) -> dict[Path, Graded]:
    """Grade the pending submissions where `grading` says, writing each as it comes back; all of them, by file."""
    graded: dict[Path, Graded] = {}
    in_a_row = 0
    with _ReportWriter(output, progress, len(pending) + len(reused)) as writer:
        for result in reused:
            writer.reused(result)
        try:
            for submission, done in grading.grade(pending):
                graded[submission.path] = done
                writer.write(done)
                in_a_row = 0 if done.result.graded else in_a_row + 1
                if in_a_row == STOP_AFTER_INTERNAL_ERRORS:
                    raise BatchStopped(
                        f"the grader failed on {in_a_row} submissions in a row, so the batch stopped "
                        f"({len(graded)} of {len(pending)} done). The last failure: {done.result.grader_error}. "
                        "Nothing was scored for them; once the problem is fixed, run the same command "
                        "again: it keeps what was graded and grades the rest.")
        finally:
            grading.close()
    return graded


def _grading(config: GradeConfig, lab: Lab, fingerprint: str, isolation: Isolation | None
             ) -> LocalGrading | DaskGrading:
    """Where the submissions are graded: the workers of a Dask cluster, or threads of this process."""
    if config.scheduler is not None:
        from grader.grade.cluster import DaskGrading  # imports distributed only when asked for

        return DaskGrading(config, lab, fingerprint)
    isolation = isolation or choose(unsafe_no_sandbox=config.unsafe_no_sandbox)
    if not isolation.confined:
        warn_unsandboxed()
    return LocalGrading(config, lab, fingerprint, isolation)


def _caps(grading: LocalGrading | DaskGrading) -> dict:
    """run.json's `caps`, what capped the memory and processes of each sandbox ("cgroup v1", "cgroup v2", or
    "rlimits": each process on its own), `cgroup_problem`, why there was no cgroup (null when there was), and
    `unenforced`, what the isolation left open to student code ([] in the sandbox with a cgroup). Each gets a
    warning on stderr, once per process."""
    if isinstance(grading.isolation, Isolation):
        names, problem = [grading.isolation.name], why_no_cgroup(grading.isolation)
        unenforced = grading.isolation.unenforced()
    else:  # a Dask batch: the isolations of its workers, comma-joined; each worker checked its own cgroups
        names = grading.isolation.split(",")
        problem = None if RLIMITS not in caps(grading.isolation).split(",") else (
            "a Dask worker without a usable cgroup: each worker checks its own; `grade` run there says why")
        unenforced = [] if all(name.startswith("bubblewrap+") for name in names) else [
            "a Dask worker graded without the sandbox or its cgroup: `grade` run there lists what was left open"]
    if "bubblewrap" in names:  # a sandbox capped per process only (a bare process gets its own warning)
        _warn_rlimits_only(problem)
    if any(name.startswith("unprivileged-uid") for name in names):
        _warn_unprivileged(tuple(unenforced))
    return {"caps": caps(",".join(names)), "cgroup_problem": problem, "unenforced": unenforced}


@functools.cache
def _warn_rlimits_only(problem: str) -> None:
    print(f"warning: no usable cgroup, so memory is capped for each process of a sandbox on its own (rlimits; "
          f"docs/sandbox.md, 'Without a cgroup'): {problem}", file=sys.stderr)


@functools.cache
def _warn_unprivileged(unenforced: tuple[str, ...]) -> None:
    print("warning: bubblewrap may not make namespaces here, so each submission's code runs as an unprivileged "
          "uid of its own instead of in the sandbox (docs/sandbox.md, 'In a container'). Not enforced:\n"
          + "".join(f"  - {line}\n" for line in unenforced), end="", file=sys.stderr)


def _reused(output: Path, files: list[Path], ids: dict[Path, str], fingerprint: str) -> dict[Path, SubmissionResult]:
    """The results an earlier run left for these very files and this grading material."""
    return {p: r for p in files if (r := _reuse(output, p, ids[p], fingerprint)) is not None}


def _reuse(output: Path, path: Path, student: str, fingerprint: str) -> SubmissionResult | None:
    result = resume.stored_result(output, student, resume.file_sha256(path), fingerprint)
    if result is not None and not all((output / "reports" / f"{student}.{s}").is_file() for s in ("html", "md")):
        _write_reports(output, result)
    return result


class _ReportWriter:
    """The report thread: each graded submission's reports, then its result, written atomically while
    the next submissions are graded; progress counts a submission once its result is written."""

    def __init__(self, output: Path, progress: Progress | None, total: int):
        self.output, self.progress = output, progress
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reports")
        self._written: list[Future] = []
        if progress is not None:
            progress.start(total)

    def reused(self, result: SubmissionResult) -> None:
        if self.progress is not None:
            self.progress.done(result, reused=True)

    def write(self, graded: Graded) -> None:
        self._written.append(self._thread.submit(self._write, graded))

    def _write(self, graded: Graded) -> None:
        begun = time.perf_counter()
        _write_outputs(self.output, graded.result, graded.reports)
        graded.spent["report"] = graded.spent.get("report", 0.0) + time.perf_counter() - begun
        if self.progress is not None:
            self.progress.done(graded.result)

    def __enter__(self) -> _ReportWriter:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._thread.shutdown(wait=True)
            if exc[0] is None:
                for written in self._written:
                    written.result()  # a report or result that could not be written stops the batch
        finally:
            if self.progress is not None:
                self.progress.close()


def _write_outputs(output: Path, result: SubmissionResult, reports: tuple[str, str] | None = None) -> None:
    _write_reports(output, result, reports)
    export.write_result(output, result)  # last: its presence marks the submission as done


def _write_reports(output: Path, result: SubmissionResult, reports: tuple[str, str] | None = None) -> None:
    html, markdown = reports or report.render_student_report(result)
    export.write_atomic(output / "reports" / f"{result.student}.html", html)
    export.write_atomic(output / "reports" / f"{result.student}.md", markdown)


def _write_class_files(output: Path, lab: Lab, results: list[SubmissionResult]) -> None:
    """The class's files, once every submission has its result."""
    export.write_atomic(output / "grades.csv", export.grades_csv(results, lab.question_names))
    export.write_atomic(output / "items.csv", export.items_csv(results))
    export.write_atomic(output / "summary.html", report.render_summary(lab.id, results))


def _timing(start_up: float | None, seconds: float, graded: dict[Path, Graded], memo: dict | None) -> dict:
    """run.json's record of where the time went (grader.timing); results never hold times."""
    return {
        "start": None if start_up is None else round(start_up, 4),
        "batch": round(seconds, 4),
        "submissions": {g.result.student: {name: round(g.spent.get(name, 0.0), 4) for name in timing.PHASES[1:]}
                        for g in sorted(graded.values(), key=lambda g: g.result.student)},
        "reference_memo": memo,
    }


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def main(config: GradeConfig) -> int:
    """Grade the batch and print a summary; 0 once every submission has a grade, `INTERNAL_ERRORS` (3) when
    the grader failed on some (listed on stderr; running the command again grades them).

    What stops the batch (unknown lab, missing folder, no sandbox, a failed self-test) is raised as a
    GraderError.
    """
    results = grade_batch(config, progress=Progress(config.lab))
    unreadable = sum(r.status is SubmissionStatus.UNREADABLE for r in results)
    reused = len(json.loads((config.output / "run.json").read_text())["reused"])
    print(f"Graded {len(results)} submission(s) for {config.lab} ({unreadable} unreadable).")
    if reused:
        print(f"  {reused} of them were already graded in {config.output} and were not graded again "
              "(use --force to regrade everything).")
    for result in sorted(results, key=lambda r: r.student):
        print(f"  {result.student:<24} {result.score_shown} / {result.max_score:g}  {result.status}")
    print(f"Reports: {config.output / 'reports'}\n"
          f"Grades:  {config.output / 'grades.csv'}\n"
          f"Summary: {config.output / 'summary.html'}")
    return report_internal_errors(results)


def report_internal_errors(results: list[SubmissionResult]) -> int:
    """List on stderr the submissions the grader failed on; `INTERNAL_ERRORS` if there are any, else 0."""
    failed = [r for r in results if not r.graded]
    for result in failed:
        print(f"  internal error: the grader failed on {result.student}, which has no grade: "
              f"{result.grader_error}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} submission(s) have no grade because the grader failed on them (status "
              "internal_error). Run the same command again to grade them.", file=sys.stderr)
    return INTERNAL_ERRORS if failed else 0
