"""Write tests/records/behaviour.json: what students read for every batch and example, graded now.

Run from the repository root with the project's venv: `python tests/records/record_behaviour.py`.
The suite compares its own batches and the demo's results with this record.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from grader.labs import EXAMPLES, LABS, make_tests_importable  # noqa: E402

make_tests_importable()

import batches  # noqa: E402
from quant_mistakes import whole_model  # noqa: E402

from grader.config import GradeConfig  # noqa: E402
from grader.grade import grade_batch  # noqa: E402


def grade(lab: str, folder: Path, limits) -> dict:
    with tempfile.TemporaryDirectory() as output:
        results = grade_batch(GradeConfig(lab=lab, submissions=folder, output=Path(output), jobs=2, limits=limits))
    return {r.student: batches.what_a_student_reads(r) for r in results}


def main() -> None:
    record: dict = {"batches": {}, "examples": {}}
    for lab in LABS:
        with tempfile.TemporaryDirectory() as folder:
            if lab in whole_model.QUESTIONS:
                batches.whole_model_batch(Path(folder), lab)
                record["batches"][lab] = grade(lab, Path(folder), batches.WHOLE_MODEL_LIMITS)
            else:
                batches.function_lab_batch(Path(folder), lab)
                record["batches"][lab] = grade(lab, Path(folder), batches.LIMITS)
        with tempfile.TemporaryDirectory() as output:
            results = grade_batch(GradeConfig(lab=lab, submissions=EXAMPLES / lab, output=Path(output), jobs=2))
        record["examples"][lab] = {r.student: batches.what_a_student_reads(r) for r in results}
        print(lab, len(record["batches"][lab]), len(record["examples"][lab]), flush=True)
    (HERE / "behaviour.json").write_text(json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
