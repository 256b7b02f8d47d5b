"""Submissions that hunt for the reference while it stands in for their helpers (stand_in/).

Each is stand_in/search.py followed by a lab's part:

- l3b.py: its `get_q_scale_symmetric` is wrong, so the grader runs `linear_q_symmetric` again with
  the reference's stand-in for that function (a function on plain values);
- l4c.py, after the course's code with a wrong `W8A16LinearLayer`: the grader runs `quantize_model`
  again with stand-ins for the layer class and for the replacement and footprint functions, which
  change or measure the student's model in place (grader/sandbox/stubs.py).

While the stand-ins run, the submission searches them (code, globals, closures, a class's every
method, a layer it builds), every object of its process, sys.modules, the other processes and the
whole disk for the reference, and answers right only when it saw a stand-in and found nothing.
Warm (the default) and cold.
"""

from pathlib import Path

import pytest

import mistakes
import quant_reference
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.sandbox.limits import Limits

STAND_IN = Path(__file__).resolve().parent / "stand_in"
SEARCH = (STAND_IN / "search.py").read_text(encoding="utf-8")
pytestmark = pytest.mark.xdist_group("hostile")

#: The search walks the sandbox's whole disk once: more time than a question usually gets.
LIMITS = Limits(question=60.0, load=60.0, cell=30.0)


def _grade(tmp_path, lab: str, source: str, warm: bool):
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "snooper.py").write_text(source, encoding="utf-8")
    (result,) = grade_batch(GradeConfig(lab=lab, submissions=folder, output=tmp_path / "out", jobs=1,
                                        warm=warm, limits=LIMITS))
    return result


def _failures(result) -> list[str]:
    return [t.message for q in result.questions for t in q.tests if not t.passed]


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_a_function_stand_in_shows_nothing_of_the_reference(warm, tmp_path):
    result = _grade(tmp_path, "L3-B", SEARCH + (STAND_IN / "l3b.py").read_text(encoding="utf-8"), warm)
    quantize, error = result.questions
    assert quantize.score == quantize.max_score, _failures(result)
    assert [h.name for h in quantize.helpers_at_fault] == ["get_q_scale_symmetric"]
    assert quantize.score_with_own_helpers == 0
    assert error.score == error.max_score, _failures(result)  # it raises what it found, and found nothing


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_a_layer_class_and_model_stand_ins_show_nothing_of_the_reference(warm, tmp_path):
    source = mistakes.mistake_source("w8a16_scale_128") + "\n\n" + SEARCH + (STAND_IN / "l4c.py").read_text()
    result = _grade(tmp_path, "L4-C", source, warm)
    footprint, quantize = result.questions
    assert footprint.score == footprint.max_score, _failures(result)
    assert quantize.score == quantize.max_score, _failures(result)  # it raises what it found, and found nothing
    assert [h.name for h in quantize.helpers_at_fault] == ["W8A16LinearLayer"]
    assert quantize.score_with_own_helpers < quantize.max_score


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch warns of deprecated names when looked at
def test_the_search_finds_the_reference_where_it_is():
    """A control: in the grader's own process, where the reference lives, the same search finds it, in a
    function and in a class."""
    namespace: dict = {"__name__": "__main__"}
    exec(compile(SEARCH + (STAND_IN / "l3b.py").read_text(encoding="utf-8"), "<cell 1>", "exec"), namespace)
    assert namespace["_search_stand_in"](quant_reference.get_q_scale_symmetric)
    assert namespace["_search_stand_in"](quant_reference.W8A16LinearLayer)
    assert namespace["_search_stand_in"](quant_reference.replace_linear_with_target_and_quantize)
    assert any("quant_reference" in found for found in namespace["_search_process"](namespace["OWN_HELPER"]))
    assert not namespace["_search_stand_in"](namespace["get_q_scale_symmetric"])
