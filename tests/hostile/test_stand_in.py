"""A submission that hunts for the reference while it stands in for its helper (stand_in/snooper.py).

The snooper's `get_q_scale_symmetric` is wrong, so the grader runs `linear_q_symmetric` again with
the reference's stand-in for it (grader/own_logic.py). During that run the snooper searches the
stand-in's code, globals and closure, every object of its process, sys.modules, the other
processes and the whole disk for the reference, and answers right only when it saw a stand-in and
found nothing. Warm (the default) and cold.
"""

import shutil
from pathlib import Path

import pytest

import quant_reference
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.sandbox.limits import Limits

STAND_IN = Path(__file__).resolve().parent / "stand_in"
pytestmark = pytest.mark.xdist_group("hostile")

#: The search walks the sandbox's whole disk once: more time than a question usually gets.
LIMITS = Limits(question=60.0, load=60.0, cell=30.0)


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_the_students_process_finds_nothing_of_the_reference(warm, tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(STAND_IN / "snooper.py", folder)
    (result,) = grade_batch(GradeConfig(lab="L3-B", submissions=folder, output=tmp_path / "out", jobs=1,
                                        warm=warm, limits=LIMITS))
    quantize, error = result.questions
    failures = [t.message for q in result.questions for t in q.tests if not t.passed]
    assert quantize.score == quantize.max_score, failures
    assert [h.name for h in quantize.helpers_at_fault] == ["get_q_scale_symmetric"]
    assert quantize.score_with_own_helpers == 0
    assert error.score == error.max_score, failures  # it raises what it found, and found nothing


def test_the_snoopers_search_finds_the_reference_where_it_is():
    """A control: in the grader's own process, where the reference lives, the same search finds it."""
    namespace: dict = {"__name__": "__main__"}
    source = (STAND_IN / "snooper.py").read_text(encoding="utf-8")
    exec(compile(source, "<cell 1>", "exec"), namespace)
    assert namespace["_search_stand_in"](quant_reference.get_q_scale_symmetric)
    assert any("quant_reference" in found for found in namespace["_search_process"]())
    assert not namespace["_search_stand_in"](namespace["get_q_scale_symmetric"])
