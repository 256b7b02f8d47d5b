"""`grade --scheduler`: a batch graded by the workers of a real Dask cluster on loopback.

The test starts a scheduler and two workers itself, with the `dask` command of this virtual
environment (`dask scheduler`, `dask worker`), on 127.0.0.1, one thread each, and stops them at the
end. Light on CPU: one small L2-A batch, one local run to compare it with, and a few slow
submissions for the worker that is killed mid-batch.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cloudpickle
import pytest
from distributed import Client

import batches
import mistakes
from grader import export
from grader.config import GradeConfig
from grader.grade import cluster as grade_cluster
from grader.grade import grade_batch, resume
from grader.grade.local import Submission
from grader.labs import get_lab

pytestmark = pytest.mark.xdist_group("dask-cluster")
# The workers cannot import this test module: what it runs on them (`Client.run`) travels by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

LIMITS = batches.LIMITS
DASK = Path(sys.executable).with_name("dask")
#: Right and wrong L2-A submissions, and one that cannot be read.
BATCH = {
    "ok_course.py": mistakes.COURSE_LITERAL,
    "ok_vectorised.py": mistakes.CORRECT_STYLES["vectorised"],
    "wrong_clamp.py": mistakes.mistake_source("missing_clamp"),
    "stub.py": mistakes.STUB,
    "corrupt.ipynb": '{"cells": [',
}
#: Each sleeps while its cells run, so a worker is surely grading one when it is killed.
SLOW = "import time\ntime.sleep(4)\n"


@dataclass
class Cluster:
    address: str
    workers: dict[str, subprocess.Popen]  # worker address -> its process
    folder: Path


def _start(command: list, log: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with log.open("wb") as out:
        return subprocess.Popen([str(c) for c in command], stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _scheduler_address(scheduler_file: Path, process: subprocess.Popen, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the Dask scheduler exited"
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.2)
    raise AssertionError("the Dask scheduler did not start")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    started = [_start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                       "--scheduler-file", scheduler_file], folder / "scheduler.log")]
    try:
        address = _scheduler_address(scheduler_file, started[0])
        for n in range(2):
            started.append(_start([DASK, "worker", address, "--name", f"worker-{n}", "--nthreads", "1",
                                   "--no-nanny", "--host", "127.0.0.1", "--no-dashboard",
                                   "--local-directory", folder / f"worker-{n}"], folder / f"worker-{n}.log"))
        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=180)
            pids = client.run(os.getpid)
        workers = {address: next(p for p in started[1:] if p.pid == pid) for address, pid in pids.items()}
        yield Cluster(address, workers, folder)
    finally:
        for process in reversed(started):
            _stop(process)


def _write(folder: Path, sources: dict[str, str]) -> Path:
    folder.mkdir()
    for name, source in sources.items():
        (folder / name).write_text(source)
    return folder


def _results(output: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((output / "results").glob("*.json"))}


def _without_worker(result: dict) -> dict:
    return dict(result, grader={k: v for k, v in result["grader"].items() if k != "worker"})


def test_a_batch_graded_by_two_workers_is_the_local_batch(cluster, tmp_path):
    submissions = _write(tmp_path / "in", BATCH)
    grade = [sys.executable, "-m", "grader", "grade", "L2-A", submissions, "-o", tmp_path / "dask",
             "--scheduler", cluster.address, "--question-timeout", str(LIMITS.question),
             "--load-timeout", str(LIMITS.load), "--cell-timeout", str(LIMITS.cell)]
    done = subprocess.run([str(a) for a in grade], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    grade_batch(GradeConfig(lab="L2-A", submissions=submissions, output=tmp_path / "local", jobs=1, limits=LIMITS))

    remote, local = _results(tmp_path / "dask"), _results(tmp_path / "local")
    assert set(remote) == set(local) == {Path(name).stem for name in BATCH}
    assert {s: _without_worker(r) for s, r in remote.items()} == {s: _without_worker(r) for s, r in local.items()}
    assert remote["ok_course"]["score"] == remote["ok_course"]["max_score"] > remote["wrong_clamp"]["score"]
    assert remote["corrupt"]["status"] == "unreadable"
    # Each result names the worker that graded it; a local result names none; both workers had work.
    assert {r["grader"]["worker"] for r in remote.values()} == set(cluster.workers)
    assert {r["grader"]["worker"] for r in local.values()} == {None}
    # The outputs are complete and the same as a local run's: reports, grades.csv, summary.
    for student in remote:
        for suffix in ("html", "md"):
            name = f"reports/{student}.{suffix}"
            assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    for name in ("grades.csv", "summary.html"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    assert not list((tmp_path / "dask").rglob("*.tmp"))
    run = json.loads((tmp_path / "dask" / "run.json").read_text())
    assert run["scheduler"] == cluster.address and sum(run["workers"].values()) == len(BATCH) == run["graded"]
    assert set(run["timing"]["submissions"]) == set(remote)

    # A rerun through the cluster resumes: nothing is graded again, every file stays as it was.
    before = {p: p.read_bytes() for p in (tmp_path / "dask").rglob("*") if p.is_file() and p.name != "run.json"}
    again = subprocess.run([str(a) for a in grade], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "dask" / "run.json").read_text())["reused"] == sorted(remote)
    assert {p: p.read_bytes() for p in before} == before

    # The batch is over on the workers too: its plugin is gone and its warm sandboxes are closed.
    with Client(cluster.address, timeout=60, set_as_default=False) as client:
        plugins = client.run(lambda dask_worker: list(dask_worker.plugins))
        assert not any(name.startswith("quant-grader") for names in plugins.values() for name in names), plugins
        deadline = time.monotonic() + 60
        while any((sandboxes := client.run(_children)).values()):
            assert time.monotonic() < deadline, sandboxes
            time.sleep(0.5)


def test_a_worker_with_other_grading_material_stops_the_batch_before_anything_is_graded(cluster, tmp_path,
                                                                                       monkeypatch):
    submissions = _write(tmp_path / "in", {"ok_course.py": mistakes.COURSE_LITERAL})
    monkeypatch.setattr(resume, "material_fingerprint", lambda lab: "0" * 64)  # this side's material differs
    with pytest.raises(grade_cluster.ClusterUnusable, match="grading material") as stopped:
        grade_batch(GradeConfig(lab="L2-A", submissions=submissions, output=tmp_path / "out", limits=LIMITS,
                                scheduler=cluster.address))
    assert stopped.value.exit_code == 2
    assert any(f"worker {address}" in str(stopped.value) for address in cluster.workers)
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_stops_the_batch_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(grade_cluster, "CONNECT_TIMEOUT", 2.0)
    submissions = _write(tmp_path / "in", {"ok_course.py": mistakes.COURSE_LITERAL})
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(grade_cluster.ClusterUnusable, match=f"cannot reach the Dask scheduler at {address}"):
        grade_batch(GradeConfig(lab="L2-A", submissions=submissions, output=tmp_path / "out", scheduler=address))
    assert not (tmp_path / "out").exists()


def test_a_submission_no_worker_could_grade_gets_a_result_that_says_so(tmp_path, capsys):
    """After every try (a KilledWorker, say), the submission still gets a result, which the next run regrades."""
    from distributed import KilledWorker

    class Failed:
        def result(self):
            raise KilledWorker("grade-alice-0", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)

    path = _write(tmp_path / "in", {"alice.py": mistakes.COURSE_LITERAL}) / "alice.py"
    grading = object.__new__(grade_cluster.DaskGrading)  # no cluster needed to receive a failure
    grading.lab, grading.fingerprint, grading.isolation = get_lab("L2-A"), "f" * 64, "bubblewrap"
    graded = grading._received(Failed(), Submission(path, "alice"))
    result = graded.result
    assert result.student == "alice" and result.status == "internal_error" and not result.graded
    assert "KilledWorker" in result.grader_error and result.grader.isolation == "bubblewrap"
    assert result.submission.sha256 == resume.file_sha256(path) and result.grader.material == "f" * 64
    assert [q.name for q in result.questions] == list(get_lab("L2-A").question_names)
    assert "no worker could grade alice" in capsys.readouterr().err
    export.write_result(tmp_path / "out", result)
    assert resume.stored_result(tmp_path / "out", "alice", result.submission.sha256, "f" * 64) is None


def test_a_worker_killed_mid_batch_costs_a_retry_never_a_result(cluster, tmp_path):
    sources = {f"slow_ok_{n}.py": SLOW + mistakes.COURSE_LITERAL for n in range(3)}
    sources["slow_wrong.py"] = SLOW + mistakes.mistake_source("missing_clamp")
    submissions = _write(tmp_path / "in", sources)
    config = GradeConfig(lab="L2-A", submissions=submissions, output=tmp_path / "out", limits=LIMITS,
                         scheduler=cluster.address)
    with ThreadPoolExecutor(max_workers=1) as runner:
        batch = runner.submit(grade_batch, config)
        with Client(cluster.address, timeout=60, set_as_default=False) as watcher:
            victim, students = _busy_worker(watcher, timeout=300)
            assert watcher.run(_children, workers=[victim])[victim]  # its sandbox, where the submission runs
        os.kill(cluster.workers[victim].pid, signal.SIGKILL)
        assert len(batch.result(timeout=600)) == len(sources)  # and grade_batch raised nothing

    results = _results(tmp_path / "out")
    assert set(results) == {Path(name).stem for name in sources}
    assert all("grader_error" not in r for r in results.values())
    survivor = next(w for w in cluster.workers if w != victim)
    for student in students:  # what the killed worker held was graded again by the other one
        assert results[student]["grader"]["worker"] == survivor, student
    for name, result in results.items():
        assert (result["score"] == result["max_score"]) is name.startswith("slow_ok"), name
        assert all((tmp_path / "out" / "reports" / f"{name}.{s}").is_file() for s in ("html", "md"))
    assert (tmp_path / "out" / "grades.csv").read_text().count("\n") == len(sources) + 1


def _children() -> list[int]:
    """The processes a worker started (its sandboxes); run on the workers with `Client.run`."""
    import psutil

    return [child.pid for child in psutil.Process().children(recursive=True)]


def _busy_worker(client: Client, timeout: float) -> tuple[str, list[str]]:
    """A worker that has held a submission for a second, and the students of the submissions it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = {w: keys for w, keys in client.processing().items() if keys}
        if busy:
            time.sleep(1.0)
            for worker, keys in client.processing().items():
                if set(keys) & set(busy.get(worker, ())):  # task keys are grade-<student>-<random>
                    return worker, [k.removeprefix("grade-").rpartition("-")[0] for k in keys]
        time.sleep(0.2)
    raise AssertionError("no worker started grading")
