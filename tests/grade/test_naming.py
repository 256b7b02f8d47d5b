"""Whose a submission file is: plain names, Canvas's "Download Submissions" names, lateness, resubmissions."""

import logging

import pytest

import mistakes
from grader.config import GradeConfig
from grader.grade import find_submissions, grade_batch, naming
from grader.sandbox.session import Limits

LIMITS = Limits(question=20.0, load=60.0, cell=20.0)


@pytest.mark.parametrize(("file_name", "expected"), [
    ("alice.py", naming.FileName("alice")),
    ("alice_smith.ipynb", naming.FileName("alice_smith")),
    ("smithjane_123456_7890123_L2-A.ipynb", naming.FileName("123456", False, True, 7890123, 0)),
    ("smithjane_LATE_123456_7890123_L2-A.ipynb", naming.FileName("123456", True, True, 7890123, 0)),
    ("smithjane_123456_7890123_L2-A-1.ipynb", naming.FileName("123456", False, True, 7890123, 1)),
    ("smithjane_LATE_123456_7890123_my_lab_2-12.py", naming.FileName("123456", True, True, 7890123, 12)),
    ("lab_12_34.py", naming.FileName("lab_12_34")),  # no uploaded file name after the ids: not Canvas's
])
def test_file_names_say_who_and_whether_late(file_name, expected):
    assert naming.parse(file_name) == expected


def test_the_newest_canvas_file_of_a_student_counts_and_the_others_are_named(tmp_path, caplog):
    names = ["smithjane_123456_7890100_L2-A.py", "smithjane_LATE_123456_7890123_L2-A.py",  # a later submission
             "doejohn_222222_7890200_L2-A.py", "doejohn_222222_7890200_L2-A-1.py",  # uploaded again
             "doejohn_222222_7890200_L2-A-2.ipynb", "alice.py", "alice.ipynb"]
    files = [tmp_path / name for name in sorted(names)]
    with caplog.at_level(logging.WARNING, logger=naming.__name__):
        kept = naming.newest_only(files)
    assert [p.name for p in kept] == ["alice.ipynb", "alice.py", "doejohn_222222_7890200_L2-A-2.ipynb",
                                      "smithjane_LATE_123456_7890123_L2-A.py"]
    assert naming.student_ids(kept) == {kept[0]: "alice_ipynb", kept[1]: "alice_py", kept[2]: "222222",
                                        kept[3]: "123456"}
    for left_out in ("smithjane_123456_7890100_L2-A.py", "doejohn_222222_7890200_L2-A.py",
                     "doejohn_222222_7890200_L2-A-1.py"):
        assert left_out in caplog.text


def test_canvas_files_are_graded_under_the_canvas_user_id_newest_only_with_lateness(tmp_path):
    folder = tmp_path / "canvas"
    folder.mkdir()
    (folder / "smithjane_123456_7890100_L2-A.py").write_text(mistakes.mistake_source("missing_clamp"))
    (folder / "smithjane_LATE_123456_7890123_L2-A.py").write_text(mistakes.COURSE_LITERAL)
    (folder / "doejohn_222222_7890200_L2-A.py").write_text(mistakes.COURSE_LITERAL)
    (folder / "doejohn_222222_7890200_L2-A-1.py").write_text(mistakes.mistake_source("missing_clamp"))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert len(find_submissions(folder)) == 2
    results = {r.student: r for r in grade_batch(GradeConfig(lab="L2-A", submissions=folder,
                                                             output=tmp_path / "out", jobs=1, limits=LIMITS))}
    assert set(results) == {"123456", "222222"}
    jane, john = results["123456"], results["222222"]
    assert jane.submission.file == "smithjane_LATE_123456_7890123_L2-A.py" and jane.submission.late
    assert jane.score == jane.max_score
    assert john.submission.file == "doejohn_222222_7890200_L2-A-1.py" and not john.submission.late
    assert 0 < john.score < john.max_score  # the resubmission, with its mistake, is the one graded
    stored = (tmp_path / "out" / "results" / "123456.json").read_text()
    assert '"late": true' in stored and '"schema_version": 5' in stored
    assert sorted(p.name for p in (tmp_path / "out" / "results").iterdir()) == ["123456.json", "222222.json"]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
