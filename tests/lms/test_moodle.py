"""`grader export moodle`: the identifier and the assignment's score, for Moodle's CSV grade import."""

import csv

import pytest

from grader.cli import main as cli_main

pytestmark = pytest.mark.xdist_group("lms")

#: As Moodle's grade export writes it (the ID number here is what the files are named after).
ROSTER = (
    "First name,Last name,ID number,Institution,Department,Email address,Assignment: L1 (Real)\n"
    "Jane,Smith,123456,Uni,CS,jane@uni.edu,8.00\n"
    "John,Doe,222222,Uni,CS,john@uni.edu,9.00\n"
    "Jo,Lee,jlee,Uni,CS,jo@uni.edu,-\n"
    "Amy,Absent,aabsent,Uni,CS,amy@uni.edu,7.00\n"
)


def test_one_row_per_placed_student_and_the_gaps_listed(graded, tmp_path, capsys):
    output, scores = graded
    (tmp_path / "grades.csv").write_text(ROSTER)
    status = cli_main(["export", "moodle", str(output), "--roster", str(tmp_path / "grades.csv"),
                       "--assignment", "L2-A autograder", "-o", str(tmp_path / "moodle.csv")])
    with (tmp_path / "moodle.csv").open(newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows == [["ID number", "L2-A autograder"], ["123456", "15"], ["222222", f"{scores['222222']:g}"],
                    ["jlee", "15"]]
    err = capsys.readouterr().err
    assert status == 1 and "stranger.py" in err
    assert "have no submission (no row: their grades in Moodle stay as they are): aabsent" in err
