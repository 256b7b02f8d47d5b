"""Write tests/records/behaviour.json: what students read for every lab's batch and example.

The record was taken before the course catalogue was refactored, and the suite compares today's
results with it (tests/grade/test_grade.py, tests/demo/test_demo.py). Run this again only to accept
a change to what students read that is meant, from the repository root with the project's venv:
`.venv/bin/python tests/records/record_behaviour.py [LAB ...]` (only those labs, when named), and
say why in the commit.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import conftest  # noqa: F401 - imported for its effect: puts quantlab, the reference and the mistakes on sys.path
from batches import RECORD, lab_batch, limits_for, what_a_student_reads
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.labs import EXAMPLES, LABS


def grade(lab: str, folder: Path, limits=None) -> dict:
    options = {"limits": limits} if limits else {}
    with tempfile.TemporaryDirectory() as output:
        results = grade_batch(GradeConfig(lab=lab, submissions=folder, output=Path(output), jobs=2, **options))
    return {r.student: what_a_student_reads(r) for r in results}


def main(labs: list[str]) -> None:
    record: dict = json.loads(RECORD.read_text(encoding="utf-8")) if labs else {"batches": {}, "examples": {}}
    for lab in (LABS[name] for name in labs) if labs else LABS.values():
        with tempfile.TemporaryDirectory() as folder:
            lab_batch(Path(folder), lab)
            record["batches"][lab.id] = grade(lab.id, Path(folder), limits_for(lab))
        record["examples"][lab.id] = grade(lab.id, EXAMPLES / lab.id)
        print(lab.id, len(record["batches"][lab.id]), len(record["examples"][lab.id]), flush=True)
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
