"""A small class graded for real, whose results the LMS exports read: Canvas-named files and plain ones."""

import json

import pytest

import mistakes
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.sandbox.session import Limits

LIMITS = Limits(question=20.0, load=60.0, cell=20.0)
SUBMISSIONS = {
    "smithjane_LATE_123456_7890123_L2-A.py": mistakes.COURSE_LITERAL,  # Canvas names: matched by Canvas's ID
    "doejohn_222222_7890200_L2-A.py": mistakes.mistake_source("missing_clamp"),
    "jlee.py": mistakes.COURSE_LITERAL,  # a plain name: matched by SIS Login ID
    "stranger.py": mistakes.STUB,  # nobody of the roster
}


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """The `grade` output folder, and each student's score as its result says."""
    folder = tmp_path_factory.mktemp("lms-submissions")
    for name, source in SUBMISSIONS.items():
        (folder / name).write_text(source)
    output = tmp_path_factory.mktemp("lms-graded")
    grade_batch(GradeConfig(lab="L2-A", submissions=folder, output=output, jobs=1, limits=LIMITS))
    scores = {p.stem: json.loads(p.read_text())["score"] for p in (output / "results").iterdir()}
    assert set(scores) == {"123456", "222222", "jlee", "stranger"}
    return output, scores
