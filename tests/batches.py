"""The graded batches the suite builds, shared by the grade tests and the behaviour record.

Each lab's batch is one folder of real submissions: every correct style, every catalogued mistake
that affects the lab, the lab's bundled examples, the stub and the untouched hand-out, and files
broken in the ways students break them. `graded` grades it once per process and path, for every
test that reads it (the grade, audit and warm-path tests).

The behaviour record (`records/behaviour.json`, written by `records/record_behaviour.py`) is a
CHANGE DETECTOR: it keeps what a student read (scores, statuses, messages, diagnoses) for the same
batches and the bundled examples when it was last recorded, right or wrong, and the suite compares
today's results with it. A difference says "this changed", not "this is wrong"; what is right is
asserted by the other tests (tests/expectations.py and the course contract). It must hold every lab
(tests/test_behaviour_record.py), and is never re-recorded in the same commit as a behaviour change
(the rules are in record_behaviour.py's docstring).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import mistakes
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.labs import EXAMPLES, Kind, Lab
from grader.results import SubmissionResult
from grader.sandbox import Limits

LIMITS = Limits(question=8.0, load=60.0, cell=20.0)
#: Whole-model questions build, quantize, save and load several small models: more time each.
WHOLE_MODEL_LIMITS = Limits(question=30.0, load=60.0, cell=20.0)
HANG = "\n\ndef linear_dequantization(quantized_tensor, scale, zero_point):\n    while True:\n        pass\n"
RECORD = Path(__file__).resolve().parent / "records" / "behaviour.json"


def limits_for(lab: Lab) -> Limits:
    return WHOLE_MODEL_LIMITS if lab.kind is Kind.WHOLE_MODELS else LIMITS


def mistakes_for(lab: Lab) -> dict[str, tuple[str, ...]]:
    """Mistake key -> the questions of `lab` it affects."""
    return {key: m.affects[lab.id] for key, m in mistakes.MISTAKES.items() if lab.id in m.affects}


def submission_name(mistake: str) -> str:
    return f"wrong_{mistake.replace('/', '_')}"


def group(lab_id: str) -> pytest.MarkDecorator:
    """The xdist group of every test that reads `lab_id`'s graded batch: one worker grades it, once."""
    return pytest.mark.xdist_group(f"batch-{lab_id}")


@dataclass(frozen=True)
class Graded:
    lab: str
    folder: Path  # the submissions
    output: Path  # grade's output folder
    results: dict[str, SubmissionResult]  # student -> result


_GRADED: dict[tuple[str, bool], Graded] = {}


def graded(lab: Lab, tmp_path_factory: pytest.TempPathFactory, *, warm: bool = True) -> Graded:
    """The lab's batch graded in the sandbox, once per process and path (warm or cold): the grade, audit
    and warm-path tests of a lab read the same grading (they share the xdist group `group(lab.id)`)."""
    key = (lab.id, warm)
    if key not in _GRADED:
        path = "warm" if warm else "cold"
        folder = tmp_path_factory.mktemp(f"{lab.id}-{path}-submissions")
        lab_batch(folder, lab)
        before = {p.name: p.read_bytes() for p in folder.iterdir()}
        output = tmp_path_factory.mktemp(f"{lab.id}-{path}-out")
        results = grade_batch(GradeConfig(lab=lab.id, submissions=folder, output=output, jobs=2,
                                          limits=limits_for(lab), warm=warm))
        assert before == {p.name: p.read_bytes() for p in folder.iterdir()}, "a submission file was modified"
        _GRADED[key] = Graded(lab.id, folder, output, {r.student: r for r in results})
    return _GRADED[key]


def lab_batch(folder: Path, lab: Lab) -> None:
    """Write the lab's batch of submissions into `folder`, the lab's bundled examples (`example_*`) included."""
    for example in sorted((EXAMPLES / lab.id).iterdir()):
        shutil.copy(example, folder / f"example_{example.name}")
    for style, source in mistakes.styles_for(lab).items():
        (folder / f"ok_{style}.py").write_text(source)
    for mistake in mistakes_for(lab):
        (folder / f"{submission_name(mistake)}.py").write_text(mistakes.mistake_source(mistake))
    (folder / "stub.py").write_text(mistakes.STUB)
    nbformat.write(nbformat.read(lab.notebook, as_version=4), folder / "handout.ipynb")
    (folder / "empty.ipynb").write_text("")
    (folder / "corrupt.ipynb").write_text('{"cells": [')
    (folder / "syntax.py").write_text("def linear_q_symmetric(:\n")
    (folder / "importerror.py").write_text("import not_a_module_anywhere\n" + mistakes.COURSE_LITERAL)
    (folder / "stuck.py").write_text(mistakes.COURSE_LITERAL + HANG)
    first, second = lab.question_names[0], lab.question_names[-1]
    (folder / "raises.py").write_text(
        mistakes.COURSE_LITERAL + f"\n\ndef {first}(*args, **kwargs):\n    raise ZeroDivisionError('oops')\n")
    (folder / "numpy_out.py").write_text(
        mistakes.COURSE_LITERAL + f"\n\nimport numpy as np\n\ndef {second}(*args, **kwargs):\n    return np.zeros(3)\n")
    nbformat.write(_messy_notebook(), folder / "messy.ipynb")


def _messy_notebook():
    notebook = new_notebook(cells=[
        new_code_cell("%matplotlib inline\nimport otter\ngrader = otter.Notebook('lab.ipynb')\n"
                      "import matplotlib.pyplot as plt"),
        new_code_cell("!pip install torch"),
        new_code_cell(mistakes.COURSE_LITERAL),
        new_code_cell("print(linear_q_with_scale_and_zero_point(torch.tensor([1.0]), 0.0, 0))\nundefined_name"),
        new_code_cell("plt.plot([1, 2, 3]); plt.show()"),
        new_code_cell("grader.check('linear_dequantization')"),
    ])
    notebook.metadata["kernelspec"] = {"name": "conda-env-quant-py", "display_name": "quant", "language": "python"}
    return notebook


def what_a_student_reads(result) -> dict:
    """The parts of a result (a SubmissionResult, or its dict) that the refactor must leave unchanged."""
    if not isinstance(result, dict):
        result = result.to_dict()
    return {
        "score": result["score"], "max_score": result["max_score"], "status": result["status"],
        "message": result["message"], "notes": result["notes"],
        "questions": [
            {
                "name": q["name"], "score": q["score"], "max_score": q["max_score"], "status": q["status"],
                "message": q["message"], "diagnosis": q["diagnosis"], "mistake": q["mistake"],
                "tests": [[t["name"], t["passed"], t["score"], t["message"]] for t in q["tests"]],
            }
            for q in result["questions"]
        ],
    }


#: Where a message quotes a line of a submission built from the catalogue's course code: the course
#: code was regrouped by topic, so the line moved; the rest of the message must not.
_SHIFTED_LINE = re.compile(r"\(line \d+ of its cell\)")


def _without_lines(value):
    if isinstance(value, str):
        return _SHIFTED_LINE.sub("(line … of its cell)", value)
    if isinstance(value, list):
        return [_without_lines(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_lines(v) for k, v in value.items()}
    return value


def recorded_labs() -> list[str]:
    """The labs the change detector holds a batch of (it must hold every lab: tests/test_behaviour_record.py)."""
    return list(json.loads(RECORD.read_text(encoding="utf-8"))["batches"])


def recorded(kind: str, lab: str) -> dict[str, dict]:
    """What students read in the change detector's record: kind "batches" (line numbers left out) or
    "examples"; empty for a lab it does not hold (the tests that read it then fail, saying so)."""
    record = json.loads(RECORD.read_text(encoding="utf-8"))[kind].get(lab, {})
    return {name: _without_lines(read) for name, read in record.items()} if kind == "batches" else record


def reads_now(kind: str, result: dict) -> dict:
    read = what_a_student_reads(result)
    return _without_lines(read) if kind == "batches" else read


def _names_in(code) -> set[str]:
    """The global and attribute names a code object and the code nested in it use."""
    return set(code.co_names).union(*(_names_in(c) for c in code.co_consts if hasattr(c, "co_names")))
