"""Where a batch's submissions are graded, first kind: threads of the `grade` process itself.

`grade_upload` is one submission's grading as a batch does it (its own test-file objects over the
batch's parsed tests, its time by phase, a grader failure costing this submission only); both
`LocalGrading` and a Dask worker (`cluster.py`) run it. `LocalGrading` runs `config.jobs` of them
at once, each in a sandbox of its own (warm: one `SandboxPool` sandbox per thread).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch

from grader import judge, timing
from grader.config import GradeConfig
from grader.grade import self_test
from grader.grade.submission import grade_submission, internal_error_result
from grader.labs import SUPPORT, Lab
from grader.load import Upload
from grader.memo import ReferenceMemo
from grader.results import SubmissionResult
from grader.sandbox import UNSAFE_FLAG, Isolation
from grader.sandbox.pool import SandboxPool
from grader.sandbox.session import Limits, SandboxFailed

log = logging.getLogger(__name__)
#: Times a submission is graded again, from scratch, when the sandbox failed before its code ran.
SANDBOX_RETRIES = 2


class Submission(NamedTuple):
    """A file of the batch and the student it belongs to."""

    path: Path
    student: str


@dataclass
class Graded:
    """One submission graded, not yet written: its result, the seconds it spent by phase (for run.json,
    `grader.timing`) and, when rendered where it was graded, its HTML and Markdown reports."""

    result: SubmissionResult
    spent: dict[str, float] = field(default_factory=dict)
    reports: tuple[str, str] | None = None


def grade_upload(upload: Upload, student: str, lab: Lab, limits: Limits, isolation: Isolation, fingerprint: str,
                 tests: judge.ParsedTests, pool: SandboxPool | None = None) -> Graded:
    """One submission's bytes graded here; `tests` are the batch's, parsed once; `pool` the warm sandboxes."""
    with timing.submission() as spent:
        begun = time.perf_counter()
        result = graded_or_internal_error(upload, lab, limits, isolation, tests, pool)
        graded = time.perf_counter() - begun
    spent["load"] = max(0.0, graded - spent.get("judge", 0.0) - spent.get("diagnose", 0.0))
    log.info("%s: %g / %g (%s)", student, result.score, result.max_score, result.status)
    return Graded(stamp(result, upload, student, fingerprint), spent)


def graded_or_internal_error(upload: Upload, lab: Lab, limits: Limits, isolation: Isolation,
                             tests: judge.ParsedTests, pool: SandboxPool | None = None) -> SubmissionResult:
    """Graded from scratch again (`SANDBOX_RETRIES` times) when the sandbox fails before the student's code
    runs; a result with status "internal_error" when it keeps failing, or when the grader itself raises."""
    for attempt in range(1 + SANDBOX_RETRIES):
        test_files = tests.fresh()  # this attempt's own records, over the batch's parsed cases
        try:
            return grade_submission(upload, lab, test_files, limits=limits, isolation=isolation, pool=pool)
        except SandboxFailed as error:
            log.warning("the sandbox failed on %s (attempt %d): %s", upload.name, attempt + 1, error.reason)
            failure: Exception = error
        except Exception as error:  # a grader bug costs this submission only
            log.exception("internal error while grading %s", upload.name)
            failure = error
            break
    return internal_error_result(upload, lab, test_files, isolation, failure)


def stamp(result: SubmissionResult, upload: Upload, student: str, fingerprint: str) -> SubmissionResult:
    """What the batch, not the file, tells a result: whose it is, the bytes graded and the material's hash."""
    result.student = student
    result.submission.sha256 = upload.sha256
    result.grader.material = fingerprint
    return result


class LocalGrading:
    """`config.jobs` submissions at once, on threads of this process; the batch's tests parsed once."""

    def __init__(self, config: GradeConfig, lab: Lab, fingerprint: str, isolation: Isolation):
        self.config, self.lab, self.fingerprint, self.isolation = config, lab, fingerprint, isolation
        self.jobs = max(1, config.jobs)
        if self.jobs > 1:
            # Submissions already run side by side; torch's own thread pool on top would oversubscribe.
            torch.set_num_threads(1)
        self.memo = ReferenceMemo()
        self.tests = judge.ParsedTests(lab, hidden=True, memo=self.memo)
        self.warm: SandboxPool | None = None  # started with the batch's first submissions (`grade`)

    def grade(self, submissions: list[Submission]) -> Iterator[tuple[Submission, Graded]]:
        """Each submission graded, in the order they finish, once the self-test passed (or `SelfTestFailed`)."""
        if not submissions:
            return
        self.warm = warm_pool(self.config, self.isolation, slots=min(self.jobs, len(submissions)))
        self_test.prove(self.lab, self._grade_upload)
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="grade") as threads:
            futures = {threads.submit(self._grade, s): s for s in submissions}
            try:
                for future in as_completed(futures):
                    yield futures[future], future.result()
            finally:  # the batch stopped early: what has not started never will
                for future in futures:
                    future.cancel()

    def _grade(self, submission: Submission) -> Graded:
        return grade_upload(Upload.read(submission.path), submission.student, self.lab, self.config.limits,
                            self.isolation, self.fingerprint, self.tests, self.warm)

    def _grade_upload(self, upload: Upload) -> SubmissionResult:
        """One upload graded as the batch grades its submissions: the self-test's."""
        return grade_upload(upload, upload.stem, self.lab, self.config.limits, self.isolation, self.fingerprint,
                            self.tests, self.warm).result

    def run_record(self) -> dict:
        """What run.json says of where this batch was graded."""
        return {"isolation": self.isolation.name, "jobs": self.jobs, "warm": self.warm is not None,
                "scheduler": None, "workers": None}

    def memo_stats(self) -> dict | None:
        """How often the reference's memo answered (run.json's timing)."""
        return self.memo.stats()

    def close(self) -> None:
        if self.warm is not None:
            self.warm.close()


def warm_pool(config: GradeConfig, isolation: Isolation, slots: int) -> SandboxPool | None:
    """The warm sandboxes, one per slot, `slots` of them already starting; None when grading cold or
    without a sandbox."""
    if not config.warm or not isolation.sandboxed:
        return None
    pool = SandboxPool(isolation, config.limits, [SUPPORT])
    pool.prestart(slots)
    return pool


def warn_unsandboxed(where: str = "") -> None:
    print(f"WARNING ({UNSAFE_FLAG}): student code runs WITHOUT a sandbox{where}, with your rights; "
          "results record isolation 'process'.", file=sys.stderr)
