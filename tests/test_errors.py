"""Stopping errors carry their exit status; the command line reports each once, on stderr."""

import pytest

import grader.build
from grader.build import BuildError
from grader.check import FileNotChecked
from grader.cli import main as cli_main
from grader.errors import GraderError
from grader.grade import GradingError
from grader.labs import LABS, UnknownLab
from grader.sandbox import SandboxUnavailable, bubblewrap

STOPPING = [UnknownLab, GradingError, SandboxUnavailable, BuildError, FileNotChecked]


@pytest.mark.parametrize("error", STOPPING)
def test_every_stopping_error_is_a_grader_error_that_exits_2(error):
    assert issubclass(error, GraderError) and error("why").exit_code == 2


def test_an_unknown_lab_is_still_a_value_error():
    assert issubclass(UnknownLab, ValueError)


def _only_line(capsys, command: str, reason: str) -> None:
    captured = capsys.readouterr()
    assert captured.err == f"python -m grader {command}: {reason}\n"
    assert reason not in captured.out


UNKNOWN = f"unknown lab 'L9-Z'; the labs are {', '.join(LABS)}"


def test_unknown_lab(tmp_path, capsys):
    (tmp_path / "mine.py").write_text("x = 1\n")
    assert cli_main(["check", "L9-Z", str(tmp_path / "mine.py")]) == 2
    _only_line(capsys, "check", UNKNOWN)
    assert cli_main(["build", "--lab", "L9-Z", "-o", str(tmp_path / "dist")]) == 2
    _only_line(capsys, "build", UNKNOWN)
    assert not (tmp_path / "dist").exists()


def test_missing_submissions_folder(tmp_path, capsys):
    assert cli_main(["grade", "L2-A", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")]) == 2
    _only_line(capsys, "grade", f"submissions folder not found: {tmp_path / 'nowhere'}")


def test_missing_file_to_check(tmp_path, capsys):
    assert cli_main(["check", "L2-A", str(tmp_path / "none.ipynb")]) == 2
    _only_line(capsys, "check", f"file not found: {tmp_path / 'none.ipynb'}")


def test_no_sandbox(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bubblewrap, "available", lambda: (None, "bubblewrap (bwrap) is not installed"))
    with pytest.raises(SandboxUnavailable) as caught:
        grader.sandbox.choose()
    assert cli_main(["demo", "-o", str(tmp_path / "demo")]) == 2
    _only_line(capsys, "demo", str(caught.value))
    assert not (tmp_path / "demo").exists()


def test_a_bad_build(monkeypatch, tmp_path, capsys):
    def refuse(config):
        raise BuildError("tests/q.py: line 3 declares a hidden case")

    monkeypatch.setattr(grader.build, "build", refuse)
    assert cli_main(["build", "-o", str(tmp_path / "dist")]) == 2
    _only_line(capsys, "build", "tests/q.py: line 3 declares a hidden case")


def test_any_grader_error_keeps_its_own_exit_code(monkeypatch, capsys):
    class Unusual(GraderError):
        exit_code = 3

    def refuse(config):
        raise Unusual("an unusual stop")

    monkeypatch.setattr(grader.build, "build", refuse)
    assert cli_main(["build"]) == 3
    _only_line(capsys, "build", "an unusual stop")
