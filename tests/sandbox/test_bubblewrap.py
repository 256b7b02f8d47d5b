"""The sandbox itself: it is there, it confines, and each cap of `Limits` holds."""

import json
import sys
import textwrap
import time
from pathlib import Path

import pytest

import grader.sandbox
import mistakes
from grader.cli import main as cli_main
from grader.labs import SUPPORT
from grader.sandbox import bubblewrap, wire
from grader.sandbox.limits import Limits, MiB, parse_size
from grader.sandbox.session import StudentCodeError, WorkerLost, WorkerSession


def sandboxed(*sources: str, **limits) -> WorkerSession:
    cells = [{"index": i, "source": textwrap.dedent(s)} for i, s in enumerate(sources, start=1)]
    return WorkerSession(cells, support=[SUPPORT], limits=Limits(**limits), isolation=bubblewrap.available()[0])


def test_the_sandbox_is_available_and_is_the_default():
    sandbox, problem = bubblewrap.available()
    assert sandbox is not None, f"the tests need bubblewrap: {problem}"
    assert grader.sandbox.choose().name in ("bubblewrap", "bubblewrap+cgroup")
    with WorkerSession([{"index": 1, "source": "x = 1"}], support=[SUPPORT], limits=Limits()) as session:
        assert session.isolation == sandbox


def test_the_worker_is_an_unprivileged_user_with_a_minimal_view(tmp_path):
    source = """
    import os
    def who():
        return os.getuid(), os.getgid(), os.getcwd(), sorted(os.listdir("/")), os.path.exists("/etc/passwd")
    def sees(paths):
        return [p for p in paths if os.path.exists(p)]
    """
    repo = Path(__file__).resolve().parents[2]
    hidden = [repo / "solutions", repo / "grader", repo / "tests", repo / "README.md", tmp_path,
              Path.home() / ".bashrc"]
    with sandboxed(source) as s:
        s.start()
        uid, gid, cwd, roots, passwd = s.call("who", (), {}, timeout=10)
        seen = s.call("sees", ([str(p) for p in hidden],), {}, timeout=10)
    assert (uid, gid, cwd, passwd) == (65534, 65534, "/scratch", False)
    assert seen == []
    python_roots = {Path(p).parts[1] for p in (sys.prefix, sys.base_prefix)}
    assert set(roots) <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "tmp",
                          "scratch", "worker"} | python_roots


def test_cpu_time_beyond_the_question_cap_stops_the_worker():
    with sandboxed("def spin():\n    while True: pass", "def ok():\n    return 1", question_cpu=1) as s:
        s.start()
        started = time.monotonic()
        with pytest.raises(WorkerLost) as lost:
            s.call("spin", (), {}, timeout=30)
        assert "CPU time" in lost.value.reason and time.monotonic() - started < 10
        s.start()
        assert s.call("ok", (), {}, timeout=10) == 1


def test_the_cpu_cap_holds_inside_an_inspection_and_is_counted_per_question():
    spinning_layer = """
    import torch
    class W8A16LinearLayer(torch.nn.Module):
        def __init__(self, *args):
            super().__init__()
            while True:
                pass
    def ok():
        return 1
    """
    with sandboxed(spinning_layer, question_cpu=1) as s:
        s.start()
        s.budget = "W8A16LinearLayer"
        started = time.monotonic()
        with pytest.raises(WorkerLost) as lost:
            s.inspect("quantlab.layer_findings.layer_findings", (wire.StudentName("W8A16LinearLayer"), 3, 3), {},
                      timeout=30)
        assert "CPU time" in lost.value.reason and time.monotonic() - started < 10


def test_the_whole_submission_has_a_wall_clock_cap():
    with sandboxed("import time\ndef nap():\n    time.sleep(60)", submission=8) as s:
        s.start()
        with pytest.raises(WorkerLost) as lost:
            s.call("nap", (), {}, timeout=30)
        assert lost.value.timed_out and "whole submission" in lost.value.reason and s.out_of_time


def test_writing_is_capped_in_size_and_place():
    source = """
    import errno, os
    def fill(path, megabytes):
        try:
            with open(path, "wb") as handle:
                for _ in range(megabytes):
                    handle.write(b"x" * (1024 * 1024))
        except OSError as error:
            return errno.errorcode[error.errno]
        return "written"
    """
    with sandboxed(source, output=8 * MiB) as s:
        s.start()
        assert s.call("fill", ("small.bin", 2), {}, timeout=10) == "written"
        assert s.call("fill", ("big.bin", 100), {}, timeout=10) in ("EFBIG", "ENOSPC")
        for outside in ("/outside.bin", "/tmp/x.bin", "/dev/shm/x.bin", "/worker/x.bin", "quantlab/x.bin"):
            assert s.call("fill", (outside, 1), {}, timeout=10) in ("EACCES", "EROFS", "ENOENT"), outside


def test_memory_is_capped_and_torch_still_works_under_the_cap():
    source = """
    import torch
    def big(n):
        return torch.ones(n, dtype=torch.uint8).sum().item()
    """
    with sandboxed(source, memory=1536 * MiB) as s:
        s.start()
        assert s.call("big", (100 * 1024 * 1024,), {}, timeout=20) == 100 * 1024 * 1024
        with pytest.raises(StudentCodeError) as refused:
            s.call("big", (4 * 1024**3,), {}, timeout=20)
        assert "allocate" in str(refused.value)


def test_sizes_parse():
    assert parse_size("2G") == 2 * 1024**3 and parse_size("512MiB") == 512 * MiB and parse_size("4096") == 4096
    with pytest.raises(ValueError):
        parse_size("lots")


@pytest.fixture
def no_sandbox(monkeypatch):
    monkeypatch.setattr(bubblewrap, "available", lambda: (None, "bubblewrap (bwrap) is not installed"))


def test_grade_refuses_to_run_student_code_without_a_sandbox(no_sandbox, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "one.py").write_text(mistakes.COURSE_LITERAL)
    assert cli_main(["grade", "L2-A", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bubblewrap (bwrap) is not installed, so student code will not be run" in err
    assert "--unsafe-no-sandbox" in err and "apt-get install bubblewrap" in err and "namespaces" not in err
    assert not (tmp_path / "out" / "results").exists()


def test_the_unsafe_flag_runs_without_a_sandbox_and_says_so(no_sandbox, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "one.py").write_text(mistakes.COURSE_LITERAL)
    assert cli_main(["grade", "L2-A", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--unsafe-no-sandbox"]) == 0
    assert "WITHOUT a sandbox" in capsys.readouterr().err
    result = json.loads((tmp_path / "out" / "results" / "one.json").read_text())
    assert result["grader"]["isolation"] == "process" and result["score"] == result["max_score"]
    assert "ran without a sandbox" in (tmp_path / "out" / "summary.html").read_text()


def test_check_runs_without_a_sandbox_and_says_so(no_sandbox, tmp_path, capsys):
    path = tmp_path / "mine.py"
    path.write_text(mistakes.COURSE_LITERAL)
    assert cli_main(["check", "L2-A", str(path)]) == 0
    assert "Ran without a sandbox" in capsys.readouterr().out
