"""The warm path grades exactly as the cold one: the same batches and examples, graded both ways,
give students the same reports (`batches.what_a_student_reads`), for labs of every kind."""

import shutil
from pathlib import Path

import pytest

import batches
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.labs import LABS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: One lab of each kind: functions, a class changing a model in place, whole models.
LABS_GRADED = ["L2-A", "L4-A", "L4-C"]


def _grade(folder: Path, lab: str, output: Path, *, warm: bool) -> dict:
    config = GradeConfig(lab=lab, submissions=folder, output=output, jobs=2,
                         limits=batches.limits_for(LABS[lab]), warm=warm)
    return {r.student: batches.what_a_student_reads(r) for r in grade_batch(config)}


@pytest.mark.parametrize("lab", LABS_GRADED)
def test_warm_and_cold_grades_are_identical(lab, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    batches.lab_batch(folder, LABS[lab])
    for example in sorted((EXAMPLES / lab).iterdir()):
        shutil.copy(example, folder / f"example_{example.name}")
    cold = _grade(folder, lab, tmp_path / "cold", warm=False)
    warm = _grade(folder, lab, tmp_path / "warm", warm=True)
    assert sorted(warm) == sorted(cold) and len(cold) > 10
    different = [student for student in cold if warm[student] != cold[student]]
    assert not different, {s: (cold[s], warm[s]) for s in different}
    assert '"warm": true' in (tmp_path / "warm" / "run.json").read_text()
