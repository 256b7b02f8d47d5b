"""`grader export canvas`: a Canvas gradebook export filled with a graded batch's scores, gaps listed on stderr."""

import csv

import pytest

from grader.cli import main as cli_main
from grader.lms import gradebook
from grader.results import SubmissionInfo, SubmissionResult

pytestmark = pytest.mark.xdist_group("lms")

#: As Canvas's gradebook exports it: a byte-order mark, the Points Possible row, other assignments and totals.
ROSTER = (
    "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,L1 Quiz (1001),Current Score,Final Score\r\n"
    "    Points Possible,,,,,10.00,(read only),(read only)\r\n"
    '"Smith, Jane",123456,S001,jsmith,Section A,8.00,80.00,80.00\r\n'
    '"Doe, John",222222,S002,jdoe,Section A,9.00,90.00,90.00\r\n'
    '"Lee, Jo",333333,S003,JLee ,Section B,,,\r\n'
    '"Absent, Amy",444444,S004,aabsent,Section B,7.00,70.00,70.00\r\n'
)


def _export(tmp_path, graded, *extra):
    (tmp_path / "gradebook.csv").write_text(ROSTER, encoding="utf-8", newline="")
    status = cli_main(["export", "canvas", str(graded), "--roster", str(tmp_path / "gradebook.csv"),
                       "--assignment", "L2-A autograder", "-o", str(tmp_path / "canvas.csv"), *extra])
    with (tmp_path / "canvas.csv").open(newline="") as stream:
        return status, list(csv.reader(stream))


def test_the_roster_gets_each_score_and_the_gaps_are_listed(graded, tmp_path, capsys):
    output, scores = graded
    status, rows = _export(tmp_path, output)
    assert rows == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "L2-A autograder"],
        ["    Points Possible", "", "", "", "", "15"],
        ["Smith, Jane", "123456", "S001", "jsmith", "Section A", "15"],
        ["Doe, John", "222222", "S002", "jdoe", "Section A", f"{scores['222222']:g}"],
        ["Lee, Jo", "333333", "S003", "JLee ", "Section B", "15"],
        ["Absent, Amy", "444444", "S004", "aabsent", "Section B", ""],
    ]
    assert 0 < scores["222222"] < 15
    captured = capsys.readouterr()
    assert status == 1  # stranger.py is in no column of the roster
    assert "1 submission(s) match no student of the roster" in captured.err and "stranger.py" in captured.err
    assert "1 student(s) of the roster have no submission" in captured.err and "Absent, Amy (ID 444444)" in captured.err
    assert "Late, as the file names say (1): 123456" in captured.out
    assert not list(tmp_path.glob(".canvas.csv.*"))  # written atomically: no temporary left


def test_another_match_column(graded, tmp_path, capsys):
    output, scores = graded
    status, rows = _export(tmp_path, output, "--match-column", "SIS User ID")
    assert status == 1
    # Canvas-named files still match by ID (Doe's score is his result's); jlee.py is no SIS User ID.
    assert [row[-1] for row in rows[2:]] == ["15", f"{scores['222222']:g}", "", ""]
    assert 0 < scores["222222"] < 15
    err = capsys.readouterr().err
    assert "jlee.py" in err and "stranger.py" in err and "by SIS User ID" in err


def test_a_roster_that_is_not_a_canvas_export_or_no_results_stop_the_export(graded, tmp_path, capsys):
    output, _ = graded
    (tmp_path / "other.csv").write_text("Name,Email\nJane,jane@uni.edu\n")
    assert cli_main(["export", "canvas", str(output), "--roster", str(tmp_path / "other.csv"),
                     "--assignment", "L2-A", "-o", str(tmp_path / "canvas.csv")]) == 2
    assert "not a Canvas gradebook export" in capsys.readouterr().err
    (tmp_path / "gradebook.csv").write_text(ROSTER)
    assert cli_main(["export", "canvas", str(tmp_path), "--roster", str(tmp_path / "gradebook.csv"),
                     "--assignment", "L2-A", "-o", str(tmp_path / "canvas.csv")]) == 2
    assert "no results in" in capsys.readouterr().err
    assert cli_main(["export", "canvas", str(output), "--roster", str(tmp_path / "gradebook.csv"),
                     "--assignment", "L2-A", "--match-column", "Email", "-o", str(tmp_path / "canvas.csv")]) == 2
    assert "the roster has no column 'Email'" in capsys.readouterr().err
    assert not (tmp_path / "canvas.csv").exists()


def _result(file_name: str, score: float) -> SubmissionResult:
    return SubmissionResult(student=file_name.split(".")[0], lab="L2-A", score=score, max_score=15.0,
                            submission=SubmissionInfo(file=file_name))


def test_two_results_for_one_student_or_one_result_for_two_students_are_not_guessed():
    roster = gradebook.Roster(header=["Student", "ID", "SIS Login ID"], students=[
        ["Jane", "1", "jane"], ["Twin A", "2", "twin"], ["Twin B", "3", "twin"], ["Sol", "4", "sol"],
        ["Kim", "5", "kim"]])
    results = [_result("jane.py", 10), _result("jane.ipynb", 15), _result("twin.py", 5), _result("sol.py", 7),
               _result("nobody.py", 1), _result("kim_5_99_L2-A.py", 3)]
    matching = gradebook.match(results, roster, lambda name: 1 if name.canvas else 2)
    assert {n: r.submission.file for n, r in matching.placed.items()} == {3: "sol.py", 4: "kim_5_99_L2-A.py"}
    assert {n: [r.submission.file for r in rs] for n, rs in matching.shared.items()} == {0: ["jane.py", "jane.ipynb"]}
    assert [r.submission.file for r in matching.several] == ["twin.py"]
    assert [r.submission.file for r in matching.nobody] == ["nobody.py"]
    assert len(matching.unplaced) == 4
