"""`grader demo` (what `make demo` runs): builds, grades every lab's examples, says where to look."""

import json

import batches
from grader.cli import main as cli_main
from grader.labs import EXAMPLES, LABS


def test_demo_builds_and_grades_every_lab(tmp_path, capsys):
    assert set(batches.recorded_labs()) <= set(LABS), "a recorded lab is gone from the catalogue"
    assert cli_main(["demo", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for lab in LABS:
        graded = sorted(p.stem for p in (EXAMPLES / lab).iterdir())
        assert sorted(p.stem for p in (tmp_path / lab / "results").iterdir()) == graded
        assert (tmp_path / lab / "summary.html").exists()
        assert (tmp_path / "dist" / "autograder" / f"{lab}.zip").exists()
        assert f"{lab}: graded {len(graded)} example submission(s)" in out
        for path in (tmp_path / lab / "results").iterdir():
            result = json.loads(path.read_text())
            if path.stem in ("alice", "bob", "dave"):  # right, in three styles (dave: messy notebook)
                assert result["score"] == result["max_score"], path
            elif path.stem == "carol":  # one docs/course.md §5 mistake, named in the report
                assert 0 <= result["score"] < result["max_score"]
                assert any(q["mistake"] for q in result["questions"])
            else:  # erin, frank: a damaged notebook, a syntax error
                assert result["status"] == "unreadable" and result["message"]
            if lab in batches.recorded_labs():  # labs added since the record have nothing to compare with
                # What each student reads is what they read before the catalogue was refactored.
                assert batches.reads_now("examples", result) == batches.recorded("examples", lab)[path.stem], path
