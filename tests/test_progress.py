"""grader.progress: a progress bar on a terminal, one line per submission anywhere else; and `grade -j`."""

import io
import os
import pty
import re
import select

import pytest

from grader.cli import parser
from grader.progress import Progress
from grader.results import SubmissionResult


def _result(student: str, score: float) -> SubmissionResult:
    return SubmissionResult(student=student, lab="L2-A", score=score, max_score=15.0)


def test_off_a_terminal_one_line_per_submission():
    stream = io.StringIO()
    progress = Progress("L2-A", stream=stream)
    assert not progress.bar
    progress.start(3)
    progress.done(_result("alice", 15))
    progress.done(_result("bob\x1b[2J", 7), reused=True)
    progress.done(_result("carol", 0))
    progress.close()
    assert stream.getvalue().splitlines() == [
        "[1/3] alice: 15 / 15 (graded)",
        "[2/3] bob?[2J: 7 / 15 (graded, already graded)",
        "[3/3] carol: 0 / 15 (graded)",
    ]


def test_on_a_terminal_a_bar_with_rate_and_eta():
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as terminal:
            progress = Progress("L2-A", stream=terminal)
            assert progress.bar
            progress.start(4)
            for student in ("alice", "bob"):
                progress.done(_result(student, 15))
            progress.close()
            terminal.flush()
        shown = b""
        while select.select([master], [], [], 0.5)[0]:
            shown += os.read(master, 65536)
        shown = shown.decode(errors="replace")
    finally:
        os.close(master)
        os.close(slave)
    assert "L2-A" in shown and "2/4" in shown and "\r" in shown
    assert re.search(r"submission/s|s/submission", shown) and "<" in shown  # rate, then elapsed<ETA
    assert "alice" not in shown  # no log lines under the bar


def test_jobs_default_to_the_number_of_cores_and_one_is_allowed():
    arguments = ["grade", "L2-A", "submissions", "-o", "out"]
    assert parser().parse_args(arguments).jobs == max(1, os.cpu_count() or 1)
    assert parser().parse_args([*arguments, "-j", "1"]).jobs == 1
    for wrong in ("0", "-2", "two"):
        with pytest.raises(SystemExit):
            parser().parse_args([*arguments, "-j", wrong])
