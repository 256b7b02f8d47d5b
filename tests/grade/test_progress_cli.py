"""`grade` on a terminal and off it: a progress bar, or one log line per submission on stderr."""

import os
import pty
import subprocess
import sys

import pytest

import mistakes
from grader.labs import ROOT
from grader.sandbox import bubblewrap

pytestmark = pytest.mark.xdist_group("progress-cli")


def _batch(folder):
    folder.mkdir()
    for name in ("alice", "bob", "carol"):
        (folder / f"{name}.py").write_text(mistakes.STUB)
    return [sys.executable, "-m", "grader", "grade", "L2-A", str(folder), "-o", str(folder.parent / "out"),
            "-j", "1", "--question-timeout", "20"]


def _read_until_closed(fd: int) -> bytes:
    """Everything written to the terminal whose other end is `fd`, until the writer has closed it."""
    shown = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the terminal closed, the grader has ended
            return shown
        if not chunk:
            return shown
        shown += chunk


def test_off_a_terminal_one_line_per_submission_on_stderr(tmp_path):
    finished = subprocess.run(_batch(tmp_path / "in"), cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    lines = finished.stderr.splitlines()
    if not bubblewrap.available()[0].cgroups:  # first, one line that says memory is capped per process only
        assert lines.pop(0).startswith("warning: no usable cgroup, so memory is capped for each process"), lines
    assert lines == [f"[{i}/3] {name}: 0 / 15 (graded)" for i, name in enumerate(("alice", "bob", "carol"), 1)]
    assert "Graded 3 submission(s)" in finished.stdout


def test_on_a_terminal_a_progress_bar(tmp_path):
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(_batch(tmp_path / "in"), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        shown = _read_until_closed(master)
        assert process.wait(timeout=300) == 0
    finally:
        os.close(master)
    text = shown.decode(errors="replace")
    assert "3/3" in text and "submission/s" in text and "\r" in text, text
    assert "[1/3]" not in text
