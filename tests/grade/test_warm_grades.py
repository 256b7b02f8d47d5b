"""The warm path grades exactly as the cold one: the same batches and examples, graded both ways,
give students the same reports (`batches.what_a_student_reads`), for labs of every kind."""


import pytest

import batches
from grader.labs import LABS

#: One lab of each kind: functions, a class changing a model in place, whole models.
LABS_GRADED = ["L2-A", "L4-A", "L4-C"]


def _reads(graded: batches.Graded) -> dict:
    return {student: batches.what_a_student_reads(result) for student, result in graded.results.items()}


@pytest.mark.parametrize("lab", [pytest.param(lab, marks=batches.group(lab)) for lab in LABS_GRADED])
def test_warm_and_cold_grades_are_identical(lab, tmp_path_factory):
    """The lab's batch (its bundled examples included), graded warm as tests/grade/test_grade.py reads it,
    and cold."""
    warm = batches.graded(LABS[lab], tmp_path_factory, warm=True)
    cold_read, warm_read = _reads(batches.graded(LABS[lab], tmp_path_factory, warm=False)), _reads(warm)
    assert sorted(warm_read) == sorted(cold_read) and len(cold_read) > 10
    assert any(student.startswith("example_") for student in cold_read)
    different = [student for student in cold_read if warm_read[student] != cold_read[student]]
    assert not different, {s: (cold_read[s], warm_read[s]) for s in different}
    assert '"warm": true' in (warm.output / "run.json").read_text()
