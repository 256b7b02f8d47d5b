"""A grader failure is never a student's zero: real sandboxes, broken on purpose, one way each.

Each broken sandbox is the real bubblewrap sandbox with one thing wrong, as a host or an install can
get it wrong: an interpreter flag this Python does not know (as `-P` was to Python 3.10), a module
missing inside the sandbox, a zygote or worker that exits as it starts, and a sandbox that works for
the self-test and then cannot start a worker any more. Before a batch, the self-test (the course's
own code) must fail and stop the command with exit status 2 and the process's own words, writing no
student result; mid-batch, the submissions get status `internal_error` (no grade, never a 0), the
command exits 3, and a rerun on a working sandbox grades them.
"""

import csv
import dataclasses
import json
import shutil
import sys
import threading

import pytest

from grader import cli
from grader import grade as grade_command
from grader.config import GradeConfig
from grader.errors import CANNOT_RUN, INTERNAL_ERRORS
from grader.grade import BatchStopped, grade_batch, self_test
from grader.labs import EXAMPLES
from grader.results import QuestionStatus, SubmissionStatus
from grader.sandbox import bubblewrap
from grader.sandbox.bubblewrap import Bubblewrap
from grader.sandbox.limits import Limits

pytestmark = pytest.mark.xdist_group("broken-sandboxes")

LIMITS = Limits(question=30.0, load=90.0, cell=30.0)
#: Both score 15 / 15 in a working sandbox (tests/expectations.py).
RIGHT = ("alice.ipynb", "bob.py")


def _sandbox() -> Bubblewrap:
    sandbox = bubblewrap.available()[0]
    if sandbox is None:
        pytest.fail(f"bubblewrap is needed to break it: {bubblewrap.available()[1]}")
    return sandbox


@dataclasses.dataclass(frozen=True)
class UnknownFlag(Bubblewrap):
    """The interpreter started with a flag it does not know: it exits 2 before any code runs."""

    def command(self, scratch, fds, limits=None):
        return _with_flag(super().command(scratch, fds, limits))

    def zygote_command(self, scratch, control_fd, limits):
        return _with_flag(super().zygote_command(scratch, control_fd, limits))


def _with_flag(argv: list[str]) -> list[str]:
    at = len(argv) - 1 - argv[::-1].index(sys.executable)
    return [*argv[:at + 1], "--no-such-interpreter-flag", *argv[at + 1:]]


@dataclasses.dataclass(frozen=True)
class MissingModule(Bubblewrap):
    """The sandbox lacks `wire.py`, which the worker and the zygote import first."""

    def wrap(self, host_scratch, argv, limits):
        arguments = super().wrap(host_scratch, argv, limits)
        at = arguments.index(f"{bubblewrap.WORKER_DIR}/wire.py")
        return arguments[:at - 2] + arguments[at + 1:]


@dataclasses.dataclass(frozen=True)
class ExitsAtStart(Bubblewrap):
    """The zygote (warm) or the worker (cold) exits the moment it starts, saying why on stderr."""

    def command(self, scratch, fds, limits=None):
        return self.wrap(scratch, _exits("worker"), limits or Limits())

    def zygote_command(self, scratch, control_fd, limits):
        return self.wrap(scratch, _exits("zygote"), limits)


def _exits(what: str) -> list[str]:
    return [sys.executable, "-c", f"import sys; sys.stderr.write('{what}: cannot start here\\n'); sys.exit(3)"]


def _breaks_after(healthy: int) -> Bubblewrap:
    """A sandbox whose first `healthy` workers start, and every later one dies before it says hello: it asks
    for a file-descriptor cap above the hard limit, as a misconfigured host might (warm: the zygote forks it,
    and it dies; cold: the worker dies)."""
    starts, lock = iter(range(10**6)), threading.Lock()

    @dataclasses.dataclass(frozen=True)
    class BreaksAfter(Bubblewrap):
        def rlimits(self, limits):
            with lock:
                broken = next(starts) >= healthy
            return {**super().rlimits(limits), **({"NOFILE": 2**40} if broken else {})}

    return BreaksAfter(**{f.name: getattr(_sandbox(), f.name) for f in dataclasses.fields(Bubblewrap)})


def _broken(kind: type[Bubblewrap]) -> Bubblewrap:
    return kind(**{f.name: getattr(_sandbox(), f.name) for f in dataclasses.fields(Bubblewrap)})


def _class(tmp_path, names=RIGHT):
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in names:
        shutil.copy(EXAMPLES / "L2-A" / name, folder / name)
    return folder


def _config(tmp_path, submissions, *, warm: bool) -> GradeConfig:
    return GradeConfig(lab="L2-A", submissions=submissions, output=tmp_path / "out", jobs=1, limits=LIMITS, warm=warm)


BEFORE_THE_BATCH = [
    pytest.param(UnknownFlag, True, "no-such-interpreter-flag", id="unknown-flag-warm"),
    pytest.param(UnknownFlag, False, "no-such-interpreter-flag", id="unknown-flag-cold"),
    pytest.param(MissingModule, True, "No module named 'wire'", id="missing-module-warm"),
    pytest.param(MissingModule, False, "No module named 'wire'", id="missing-module-cold"),
    pytest.param(ExitsAtStart, True, "zygote: cannot start here", id="zygote-exits"),
    pytest.param(ExitsAtStart, False, "worker: cannot start here", id="worker-exits"),
]


@pytest.mark.parametrize(("kind", "warm", "said"), BEFORE_THE_BATCH)
def test_a_broken_sandbox_stops_the_batch_before_any_student_result(tmp_path, kind, warm, said):
    config = _config(tmp_path, _class(tmp_path), warm=warm)
    with pytest.raises(self_test.SelfTestFailed) as stopped:
        grade_batch(config, _broken(kind))
    assert stopped.value.exit_code == CANNOT_RUN == 2
    assert "self-test" in str(stopped.value) and said in str(stopped.value)  # the failing process's own words
    assert not list(config.output.glob("results/*.json")) and not (config.output / "grades.csv").exists()


def test_the_command_line_exits_2_and_says_what_broke(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(grade_command, "choose", lambda **_: _broken(UnknownFlag))
    out = tmp_path / "out"
    status = cli.main(["grade", "L2-A", str(_class(tmp_path)), "-o", str(out), "-j", "1", "--cold"])
    assert status == 2
    stderr = capsys.readouterr().err
    assert "python -m grader grade: the sandbox failed its self-test" in stderr and "no-such-interpreter-flag" in stderr
    assert not list(out.glob("results/*.json"))


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_a_sandbox_that_breaks_mid_batch_gives_no_grade_not_a_zero(tmp_path, warm, capsys):
    submissions = _class(tmp_path)
    config = _config(tmp_path, submissions, warm=warm)
    results = grade_batch(config, _breaks_after(healthy=1))  # the self-test's worker starts; no other does
    assert [r.status for r in results] == [SubmissionStatus.INTERNAL_ERROR] * 2
    for result in results:
        assert result.score == 0 and not result.graded and "not your fault" in result.message
        assert "before running any student code" in result.grader_error
        assert "not allowed to raise maximum limit" in result.grader_error  # the worker's own traceback
        assert {q.status for q in result.questions} == {QuestionStatus.NOT_RUN}
    rows = list(csv.DictReader((config.output / "grades.csv").open()))
    assert [(r["student"], r["score"], r["status"], r["linear_dequantization"]) for r in rows] == [
        ("alice", "", "internal_error", ""), ("bob", "", "internal_error", "")]
    assert (config.output / "items.csv").read_text().count("\n") == 1  # the header: no test was judged
    markdown = (config.output / "reports" / "alice.md").read_text()
    assert "no grade yet" in markdown and "This is not your fault" in markdown and "0 / 15" not in markdown
    assert grade_command.report_internal_errors(results) == INTERNAL_ERRORS == 3
    assert "internal error: the grader failed on alice" in capsys.readouterr().err

    regraded = grade_batch(config, _sandbox())  # a working sandbox: the rerun grades what had no grade
    assert [(r.student, r.score, r.status) for r in regraded] == [("alice", 15.0, "graded"), ("bob", 15.0, "graded")]
    assert json.loads((config.output / "run.json").read_text())["reused"] == []


def test_three_in_a_row_stop_the_batch_and_keep_what_was_graded(tmp_path):
    submissions = _class(tmp_path, ("alice.ipynb", "bob.py", "carol.ipynb", "dave.ipynb", "erin.ipynb"))
    config = _config(tmp_path, submissions, warm=False)
    with pytest.raises(BatchStopped) as stopped:
        grade_batch(config, _breaks_after(healthy=1 + 1))  # the self-test's, then alice's
    assert stopped.value.exit_code == INTERNAL_ERRORS
    assert "3 submissions in a row" in str(stopped.value) and "run the same command again" in str(stopped.value)
    stored = {p.stem: json.loads(p.read_text()) for p in (config.output / "results").glob("*.json")}
    assert {s: (r["score"], r["status"]) for s, r in stored.items()} == {
        "alice": (15.0, "graded"), "bob": (0.0, "internal_error"), "carol": (0.0, "internal_error"),
        "dave": (0.0, "internal_error")}  # erin's was never graded: the batch had stopped


def test_a_student_who_kills_their_own_worker_is_graded_not_excused(tmp_path):
    """The line falls where the student's code starts: a program that ends its own process scores 0."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "mallory.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    results = grade_batch(_config(tmp_path, folder, warm=True), _sandbox())
    assert [(r.student, r.score, r.status) for r in results] == [("mallory", 0.0, "graded")]
    assert {q.status for q in results[0].questions} == {QuestionStatus.CRASHED}


def test_gradescope_tells_the_student_it_is_not_their_fault(tmp_path, monkeypatch):
    from grader import gradescope
    from grader.config import GradescopeConfig

    (tmp_path / "submission").mkdir()
    shutil.copy(EXAMPLES / "L2-A" / "alice.ipynb", tmp_path / "submission" / "alice.ipynb")
    monkeypatch.setattr(gradescope, "for_gradescope", lambda: (_broken(MissingModule), ""))
    with pytest.raises(self_test.SelfTestFailed):
        gradescope.main(GradescopeConfig(lab="L2-A", root=tmp_path, limits=LIMITS))
    written = json.loads((tmp_path / "results" / "results.json").read_text())
    assert "This is not your fault" in written["output"] and "is not a grade" in written["output"]
    assert "wire" not in written["output"]  # what broke is for the instructor (extra_data), not the student
    assert "No module named 'wire'" in written["extra_data"]["grader_error"] and written["tests"] == []
