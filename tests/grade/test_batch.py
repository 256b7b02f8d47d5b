"""What a batch shares (the parsed tests, the reference's answers) never lets one submission change another's grade."""

import json

import pytest

import mistakes
from grader import judge
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.labs import get_lab
from grader.sandbox.session import Limits

pytestmark = pytest.mark.xdist_group("batch-sharing")

LIMITS = Limits(question=20.0, load=60.0, cell=20.0)
#: Changes every tensor it is given, in place, and returns the changed tensors themselves: if its
#: inputs or its answers were shared with anything, the damage would show in the next submission.
POISONER = mistakes.COURSE_LITERAL + '''

def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    tensor.fill_(7.0)
    return tensor.to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    quantized_tensor.zero_()
    return quantized_tensor.float().add_(3.0)
'''
#: Graded after the poisoner (one at a time, in file-name order), each hits the memo it filled.
OTHERS = {
    "b_course": mistakes.COURSE_LITERAL,
    "c_in_place": mistakes.CORRECT_STYLES["in_place"],
    "d_wrong": mistakes.mistake_source("missing_clamp"),
}


def test_parsed_once_fresh_records_for_each_submission():
    tests = judge.ParsedTests(get_lab("L2-A"), hidden=True)
    first, second = tests.fresh(), tests.fresh()
    assert [t.name for t in first] == [t.name for t in second] == list(get_lab("L2-A").question_names)
    for a, b in zip(first, second, strict=True):
        assert a is not b and a.test_case_results is not b.test_case_results
        assert [c.body for c in a.test_cases] == [c.body for c in b.test_cases]  # the parsed cases are shared
        a.test_case_results.append("recorded")
        assert b.test_case_results == [] and a.source == b.source and a.all_or_nothing == b.all_or_nothing


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sharing")
    (folder / "a_poisoner.py").write_text(POISONER)
    for student, source in OTHERS.items():
        (folder / f"{student}.py").write_text(source)
    output = tmp_path_factory.mktemp("sharing-out")
    results = grade_batch(GradeConfig(lab="L2-A", submissions=folder, output=output, jobs=1, limits=LIMITS))
    return {r.student: r.to_dict() for r in results}, output


def test_a_submission_that_mutates_its_inputs_changes_no_other_grade(shared, tmp_path):
    results, output = shared
    assert results["a_poisoner"]["score"] == 0
    assert results["b_course"]["score"] == results["c_in_place"]["score"] == results["b_course"]["max_score"]
    assert 0 < results["d_wrong"]["score"] < results["d_wrong"]["max_score"]
    memo = json.loads((output / "run.json").read_text())["timing"]["reference_memo"]
    assert memo["hits"] > 0, memo  # the others really were judged against remembered answers
    for student, source in OTHERS.items():  # each alone: a batch of its own, a memo of its own
        alone = tmp_path / student
        alone.mkdir()
        (alone / f"{student}.py").write_text(source)
        [result] = grade_batch(GradeConfig(lab="L2-A", submissions=alone, output=tmp_path / f"{student}-out",
                                           jobs=1, limits=LIMITS))
        assert result.to_dict() == results[student], student
        assert (tmp_path / f"{student}-out" / "results" / f"{student}.json").read_bytes() == \
            (output / "results" / f"{student}.json").read_bytes()


def test_run_json_says_where_the_time_went_and_results_hold_no_times(shared):
    results, output = shared
    timing = json.loads((output / "run.json").read_text())["timing"]
    assert timing["batch"] > 0 and (timing["start"] is None or timing["start"] >= 0)
    assert sorted(timing["submissions"]) == sorted(results)
    for spent in timing["submissions"].values():
        assert set(spent) == {"load", "judge", "diagnose", "report"} and all(v >= 0 for v in spent.values())
        assert spent["load"] > 0 and spent["judge"] > 0 and spent["report"] > 0
    assert timing["submissions"]["d_wrong"]["diagnose"] > 0  # a failed question is diagnosed
    for student in results:
        text = (output / "results" / f"{student}.json").read_text()
        assert "timing" not in text and "seconds" not in text
