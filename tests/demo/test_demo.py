"""`grader demo` (what `make demo` runs): builds, grades every lab's examples, says where to look."""

import json

import batches
from grader.cli import main as cli_main
from grader.labs import EXAMPLES, LABS


def test_demo_builds_and_grades_every_lab(tmp_path, capsys):
    # The change detector (tests/records/behaviour.json) holds every lab's examples: a lab it does not know fails.
    assert set(batches.recorded_labs()) == set(LABS), "the change detector's labs are not the catalogue's"
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
            # Change detector: what each student reads is what the record holds (a difference is a change,
            # fix or regression; re-record only in a commit of its own, tests/records/record_behaviour.py).
            recorded = batches.recorded("examples", lab)
            assert path.stem in recorded, f"the change detector holds no record of {lab}'s {path.stem}"
            assert batches.reads_now("examples", result) == recorded[path.stem], path
