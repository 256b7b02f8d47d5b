"""Where a batch's submissions are graded, second kind: the workers of a Dask cluster (`grade --scheduler`).

The `grade` process is a Dask client. It reads each submission and sends its bytes (`load.Upload`:
the file name and the content, never a path) as one task; a worker grades them with the very code a
local run uses (`local.grade_upload`), renders the reports and sends the result and the reports
back; the client writes them as a local run does. Every worker machine has this project installed
with its sandbox.

Each worker process keeps, in a `GradingWorker` plugin registered for the batch, what a local batch
keeps for its whole length and nothing else: the sandbox it checked once, the lab's parsed tests
with the reference's memo, and its warm sandboxes (`SandboxPool`), closed when the batch ends or
the worker closes. Nothing of one submission reaches the next. Before it joins the batch, each worker
passes the self-test (`self_test`): a worker that fails it stops the batch before anything is graded.

A worker lost mid-batch costs a retry, never a result: the scheduler hands the tasks it held to
another worker (up to `distributed.scheduler.allowed-failures` times per task), a task that raises
is tried again (`RETRIES`), and a task that fails for good gets an internal-error result
(`grader_error`), which the next run grades again, as a local grader failure does.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
import uuid
from collections.abc import Iterator

import torch
from distributed import Client, WorkerPlugin, as_completed, get_worker

from grader import judge, report
from grader.config import GradeConfig
from grader.errors import GraderError
from grader.grade import resume, self_test
from grader.grade.local import Graded, Submission, grade_upload, stamp, warm_pool, warn_unsandboxed
from grader.grade.submission import internal_error_result
from grader.labs import Lab, get_lab
from grader.load import Upload
from grader.memo import ReferenceMemo
from grader.results import SubmissionResult
from grader.sandbox import Isolation, choose
from grader.sandbox.pool import SandboxPool

#: Times a task that raised is tried again (a lost worker is the scheduler's to retry, see above).
RETRIES = 2
#: Seconds to reach the scheduler, and to wait for its first worker.
CONNECT_TIMEOUT, WORKERS_TIMEOUT = 30.0, 120.0
#: Submissions sent ahead of the results that came back: the scheduler keeps every worker busy
#: without the client holding a whole class of notebooks in memory.
IN_FLIGHT = 256


class ClusterUnusable(GraderError):
    """The Dask cluster cannot grade this batch: no scheduler, no worker, or a worker without the sandbox
    or with other grading material than this machine's."""


class GradingWorker(WorkerPlugin):
    """What one Dask worker process keeps for a batch: exactly what a local batch keeps."""

    def __init__(self, config: GradeConfig, lab_id: str, fingerprint: str):
        self.config, self.lab_id, self.fingerprint = config, lab_id, fingerprint
        self.name = f"quant-grader-{uuid.uuid4().hex[:12]}"  # one plugin per batch
        self.problem: str | None = None  # why this worker cannot grade the batch
        self.isolation: Isolation | None = None
        self.pool: SandboxPool | None = None

    async def setup(self, worker) -> None:
        # Checking the sandbox and hashing the material take seconds: off the worker's event loop.
        await asyncio.to_thread(self._prepare, worker.address, worker.state.nthreads)

    def _prepare(self, address: str, threads: int) -> None:
        self.lab = get_lab(self.lab_id)
        try:
            self.isolation = choose(unsafe_no_sandbox=self.config.unsafe_no_sandbox)
        except GraderError as error:
            self.problem = f"worker {address}: {error}"
            raise ClusterUnusable(self.problem) from None
        if resume.material_fingerprint(self.lab) != self.fingerprint:
            self.problem = (f"worker {address}: its grading material (tests, reference, grader code) differs "
                            "from this machine's; install the same version of this project on every machine")
            raise ClusterUnusable(self.problem)
        if threads > 1:
            torch.set_num_threads(1)  # as a local batch with -j above 1
        self.memo = ReferenceMemo()
        self.tests = judge.ParsedTests(self.lab, hidden=True, memo=self.memo)
        self.pool = warm_pool(self.config, self.isolation, slots=threads)
        try:
            self_test.prove(self.lab, self._grade_upload, where=f" on Dask worker {address}")
        except self_test.SelfTestFailed as error:
            self.problem = str(error)
            raise ClusterUnusable(self.problem) from None

    def _grade_upload(self, upload: Upload) -> SubmissionResult:
        return grade_upload(upload, upload.stem, self.lab, self.config.limits, self.isolation, self.fingerprint,
                            self.tests, self.pool).result

    def teardown(self, worker) -> None:
        if self.pool is not None:
            self.pool.close()


def grade_on_worker(upload: Upload, student: str, plugin_name: str) -> Graded:
    """The task: one submission graded by this worker, its reports rendered, named after the worker."""
    worker = get_worker()
    here: GradingWorker = worker.plugins[plugin_name]
    if here.problem is not None:
        raise ClusterUnusable(here.problem)
    graded = grade_upload(upload, student, here.lab, here.config.limits, here.isolation, here.fingerprint,
                          here.tests, here.pool)
    graded.result.grader.worker = worker.address
    begun = time.perf_counter()
    graded.reports = report.render_student_report(graded.result)
    graded.spent["report"] = time.perf_counter() - begun  # the client adds the time it takes to write them
    return graded


class DaskGrading:
    """Submissions sent to the workers of the Dask scheduler at `config.scheduler`."""

    def __init__(self, config: GradeConfig, lab: Lab, fingerprint: str):
        self.config, self.lab, self.fingerprint = config, lab, fingerprint
        self.client = _connect(config.scheduler)
        self.plugin = GradingWorker(config, lab.id, fingerprint)
        self.workers: dict[str, int] = {}  # worker -> submissions it graded
        try:  # a worker that cannot grade (no sandbox, other material) raises here, and the batch stops
            self.client.register_plugin(self.plugin, name=self.plugin.name)
        except ClusterUnusable as error:
            self.close()
            raise ClusterUnusable(f"a Dask worker cannot grade this batch, so none was graded: {error}") from None
        except BaseException:
            self.close()
            raise
        isolations = self.client.run(_isolation, self.plugin.name)
        self.isolation = ",".join(sorted({i for i in isolations.values() if i is not None}))  # as results say it
        self.threads = sum(self.client.nthreads().values())  # the workers' grading slots when the batch began
        if "process" in isolations.values():
            warn_unsandboxed(f" on worker(s) {', '.join(w for w, i in isolations.items() if i == 'process')}")

    def grade(self, submissions: list[Submission]) -> Iterator[tuple[Submission, Graded]]:
        """Each submission graded by a worker, in the order they come back."""
        waiting = iter(submissions)
        sent = {}
        done = as_completed(loop=self.client.loop)
        for submission in _take(waiting, IN_FLIGHT):
            done.add(self._send(submission, sent))
        for future in done:
            submission = sent.pop(future)
            graded = self._received(future, submission)
            future.release()
            if (worker := graded.result.grader.worker) is not None:
                self.workers[worker] = self.workers.get(worker, 0) + 1
            for following in _take(waiting, 1):
                done.add(self._send(following, sent))
            yield submission, graded

    def _send(self, submission: Submission, sent: dict):
        upload = Upload.read(submission.path)
        future = self.client.submit(grade_on_worker, upload, submission.student, self.plugin.name, pure=False,
                                    retries=RETRIES, key=f"grade-{submission.student}-{uuid.uuid4().hex[:8]}")
        sent[future] = submission
        return future

    def _received(self, future, submission: Submission) -> Graded:
        try:
            return future.result()
        except Exception as error:  # failed on every try (a KilledWorker, say): costs this submission only
            print(f"warning: no worker could grade {submission.student}: {error}", file=sys.stderr)
            upload = Upload.read(submission.path)
            tests = judge.ParsedTests(self.lab, hidden=True).fresh()
            result = internal_error_result(upload, self.lab, tests, None, error)
            result.grader.isolation = self.isolation  # what it would have run in, not a bare process
            return Graded(stamp(result, upload, submission.student, self.fingerprint))

    def run_record(self) -> dict:
        """What run.json says of where this batch was graded."""
        return {"isolation": self.isolation, "jobs": self.threads,
                "warm": self.config.warm and "process" not in self.isolation.split(","),
                "scheduler": self.config.scheduler, "workers": dict(sorted(self.workers.items()))}

    def memo_stats(self) -> None:
        return None  # each worker has its own memo

    def close(self) -> None:
        """The workers close the batch's warm sandboxes (the plugin's teardown); the client disconnects."""
        try:
            self.client.unregister_worker_plugin(self.plugin.name)
        except Exception as error:  # the results are written; a worker closes its plugin when it closes
            print(f"warning: could not end the batch on every Dask worker: {error}", file=sys.stderr)
        finally:
            self.client.close()


def _connect(address: str) -> Client:
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ClusterUnusable(f"cannot reach the Dask scheduler at {address}: {error}") from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except TimeoutError:
        client.close()
        raise ClusterUnusable(f"no Dask worker joined the scheduler at {address} within {WORKERS_TIMEOUT:g} s; "
                              "start some with `dask worker " + address + " --nthreads 1` (docs/cluster.md)") from None
    return client


def _isolation(plugin_name: str, dask_worker) -> str | None:
    isolation = getattr(dask_worker.plugins.get(plugin_name), "isolation", None)  # None: a worker still joining
    return None if isolation is None else isolation.name


def _take(items: Iterator[Submission], count: int) -> list[Submission]:
    return list(itertools.islice(items, count))

