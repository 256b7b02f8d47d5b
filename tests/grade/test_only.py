"""`grade --only STUDENT` regrades that student alone; the class's files still cover everyone."""

import csv
import json

import mistakes
from grader.cli import main as cli_main

LIMIT_FLAGS = ["--question-timeout", "20", "--load-timeout", "60", "--cell-timeout", "20", "-j", "1"]


def _rows(output):
    with (output / "grades.csv").open() as stream:
        return {row["student"]: row for row in csv.DictReader(stream)}


def _stamps(output, students):
    files = [output / "results" / f"{s}.json" for s in students]
    files += [output / "reports" / f"{s}.{kind}" for s in students for kind in ("html", "md")]
    return {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in files}


def test_only_regrades_that_student_and_leaves_the_others_untouched(tmp_path, capsys):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    (subs / "alice.py").write_text(mistakes.COURSE_LITERAL)
    (subs / "bob.py").write_text(mistakes.mistake_source("missing_clamp"))
    (subs / "carol.py").write_text(mistakes.STUB)
    assert cli_main(["grade", "L2-A", str(subs), "-o", str(out), *LIMIT_FLAGS]) == 0
    first = _rows(out)
    assert float(first["bob"]["score"]) < float(first["bob"]["max_score"]) and first["carol"]["score"] == "0"
    others = _stamps(out, ["alice", "carol"])

    (subs / "bob.py").write_text(mistakes.COURSE_LITERAL)  # bob hands in a fixed file
    (subs / "carol.py").write_text(mistakes.COURSE_LITERAL)  # carol too, but only bob is regraded
    assert cli_main(["grade", "L2-A", str(subs), "-o", str(out), "--only", "bob", *LIMIT_FLAGS]) == 0

    assert _stamps(out, ["alice", "carol"]) == others
    bob = json.loads((out / "results" / "bob.json").read_text())
    assert bob["score"] == bob["max_score"] == 15
    rows = _rows(out)
    assert set(rows) == {"alice", "bob", "carol"}
    assert (rows["alice"]["score"], rows["bob"]["score"], rows["carol"]["score"]) == ("15", "15", "0")
    summary = (out / "summary.html").read_text()
    assert all(name in summary for name in ("alice", "bob", "carol"))
    run = json.loads((out / "run.json").read_text())
    assert (run["submissions"], run["graded"], run["reused"]) == (1, 1, [])


def test_only_a_student_with_no_submission_stops_with_the_reason(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "alice.py").write_text(mistakes.COURSE_LITERAL)
    assert cli_main(["grade", "L2-A", str(tmp_path / "subs"), "-o", str(tmp_path / "out"), "--only", "zed"]) == 2
    error = capsys.readouterr().err
    assert "--only: no submission of zed" in error and "alice" in error
    assert not (tmp_path / "out").exists()
