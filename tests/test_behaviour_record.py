"""The change detector (tests/records/behaviour.json) holds every lab, and its recorder refuses to run
in the same commit as a behaviour change (tests/records/record_behaviour.py says why)."""

from __future__ import annotations

import importlib.util
import json

import pytest

import batches
from grader.labs import LABS

RECORDER = batches.RECORD.parent / "record_behaviour.py"


@pytest.fixture(scope="module")
def recorder():
    spec = importlib.util.spec_from_file_location("record_behaviour", RECORDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", ["batches", "examples"])
def test_the_change_detector_holds_every_lab_of_the_catalogue(kind):
    """A lab the record does not know fails here (the tests that compare with it would have nothing to
    compare): record it with `record_behaviour.py --accept "<why>" LAB`, in a commit of its own."""
    record = json.loads(batches.RECORD.read_text(encoding="utf-8"))
    assert sorted(record[kind]) == sorted(LABS), f"the change detector's {kind} are not the catalogue's labs"
    assert all(record[kind][lab] for lab in LABS), f"a lab's {kind} record is empty"


def test_the_recorder_refuses_without_a_reason_or_with_anything_uncommitted(recorder):
    record = recorder.RECORD_PATH
    assert record == "tests/records/behaviour.json"
    assert "--accept" in recorder.refusal(None, [])
    assert "--accept" in recorder.refusal("", [record])
    assert "commit the behaviour change first" in recorder.refusal("a fix", ["grader/judge.py", record])
    assert "commit the behaviour change first" in recorder.refusal("a fix", ["tests/new_test.py"])
    assert "git cannot tell" in recorder.refusal("a fix", None)
    assert recorder.refusal("a fix", []) is None
    assert recorder.refusal("a fix", [record]) is None  # a second run over the record it wrote


def test_the_recorder_stops_before_grading_anything_when_it_refuses(recorder, monkeypatch, capsys):
    monkeypatch.setattr(recorder, "changed_paths", lambda: ["grader/judge.py"])
    monkeypatch.setattr(recorder, "grade", lambda *args, **kwargs: pytest.fail("it graded"))
    assert recorder.main(["--accept", "a fix"]) == 2
    assert recorder.main([]) == 2
    assert "refuses to re-record the change detector" in capsys.readouterr().err
