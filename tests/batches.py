"""The graded batches the suite builds, shared by the grade tests and the behaviour record.

Each lab's batch is one folder of real submissions: every correct style, every catalogued mistake
that affects the lab, the stub, and files that are broken in the ways students break them.
`record_behaviour.py` grades the same batches, plus the bundled examples, and keeps what a student
would read (scores, statuses, messages, diagnoses), so a refactor can be checked against it.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

import mistakes
from quant_mistakes import whole_model

from grader.labs import LABS
from grader.sandbox.session import Limits

LIMITS = Limits(question=8.0, load=60.0, cell=20.0)
WHOLE_MODEL_LIMITS = Limits(question=30.0, load=60.0, cell=20.0)
HANG = "\n\ndef linear_dequantization(quantized_tensor, scale, zero_point):\n    while True:\n        pass\n"


def mistakes_for(lab: str) -> dict[str, list[str]]:
    return {mid: spec["affects"][lab] for mid, spec in mistakes.MISTAKES.items() if lab in spec["affects"]}


def function_lab_batch(folder: Path, lab: str) -> None:
    for style, source in mistakes.CORRECT_STYLES.items():
        (folder / f"ok_{style}.py").write_text(source)
    for mistake in mistakes_for(lab):
        (folder / f"wrong_{mistake.replace('/', '_')}.py").write_text(mistakes.mistake_source(mistake))
    (folder / "stub.py").write_text(mistakes.STUB)
    (folder / "empty.ipynb").write_text("")
    (folder / "corrupt.ipynb").write_text('{"cells": [')
    (folder / "syntax.py").write_text("def linear_q_symmetric(:\n")
    (folder / "importerror.py").write_text("import not_a_module_anywhere\n" + mistakes.COURSE_LITERAL)
    (folder / "stuck.py").write_text(mistakes.COURSE_LITERAL + HANG)
    first, second = LABS[lab].question_names[0], LABS[lab].question_names[-1]
    (folder / "raises.py").write_text(
        mistakes.COURSE_LITERAL + f"\n\ndef {first}(*args, **kwargs):\n    raise ZeroDivisionError('oops')\n")
    (folder / "numpy_out.py").write_text(
        mistakes.COURSE_LITERAL + f"\n\nimport numpy as np\n\ndef {second}(*args, **kwargs):\n    return np.zeros(3)\n")
    notebook = new_notebook(cells=[
        new_code_cell("%matplotlib inline\nimport otter\ngrader = otter.Notebook('lab.ipynb')\nimport matplotlib.pyplot as plt"),
        new_code_cell("!pip install torch"),
        new_code_cell(mistakes.COURSE_LITERAL),
        new_code_cell("print(linear_q_with_scale_and_zero_point(torch.tensor([1.0]), 0.0, 0))\nundefined_name"),
        new_code_cell("plt.plot([1, 2, 3]); plt.show()"),
        new_code_cell("grader.check('linear_dequantization')"),
    ])
    notebook.metadata["kernelspec"] = {"name": "conda-env-quant-py", "display_name": "quant", "language": "python"}
    nbformat.write(notebook, folder / "messy.ipynb")


def whole_model_mistakes_for(lab: str) -> dict[str, list[str]]:
    return {m: spec["affects"][lab] for m, spec in whole_model.MISTAKES.items() if lab in spec["affects"]}


def whole_model_batch(folder: Path, lab: str) -> None:
    (folder / "ok_course.py").write_text(whole_model.SOLUTION)
    for mistake in whole_model_mistakes_for(lab):
        (folder / f"wrong_{mistake}.py").write_text(whole_model.source(mistake))
    notebook = nbformat.read(LABS[lab].notebook, as_version=4)
    nbformat.write(notebook, folder / "handout.ipynb")


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
