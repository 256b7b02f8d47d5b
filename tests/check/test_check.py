"""`grader check`: public tests only, with the messages otter shows in the notebook."""

import re
import shutil

import nbformat
from nbclient import NotebookClient

import mistakes
from grader.build import build_student
from grader.check import run_check
from grader.cli import main as cli_main
from grader.config import CheckConfig
from grader.labs import LABS


def test_a_correct_script_passes_every_public_test(tmp_path, capsys):
    path = tmp_path / "mine.py"
    path.write_text(mistakes.COURSE_LITERAL)
    assert cli_main(["check", "L3-A", str(path)]) == 0
    out = capsys.readouterr().out
    for question in LABS["L3-A"].question_names:
        assert f"{question} results: All test cases passed!" in out
    assert "hidden" not in out.replace("hidden tests", "")


def test_a_wrong_script_fails_with_a_specific_message(tmp_path, capsys):
    path = tmp_path / "mine.py"
    path.write_text(mistakes.mistake_source("missing_clamp"))
    assert cli_main(["check", "L2-A", str(path)]) == 1
    out = capsys.readouterr().out
    assert "yours -118, expected 127" in out


def test_check_never_loads_hidden_cases(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(mistakes.COURSE_LITERAL)
    result = run_check(CheckConfig(lab="L2-B", file=path))[0].to_dict()
    assert result["questions"] and not any(t["hidden"] for q in result["questions"] for t in q["tests"])


def test_missing_file_and_unknown_lab(tmp_path, capsys):
    assert cli_main(["check", "L2-A", str(tmp_path / "none.ipynb")]) == 2
    path = tmp_path / "a.py"
    path.write_text("x = 1")
    assert cli_main(["check", "nope", str(path)]) == 2


def _fill(notebook, source: str):
    """The student's work: every stub cell replaced, the rest as handed out."""
    first = True
    for cell in notebook.cells:
        if cell.cell_type == "code" and "raise NotImplementedError" in cell.source:
            cell.source = source if first else "pass"
            first = False
    return notebook


def _text_outputs(cell) -> str:
    return "".join(o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "execute_result")


def test_messages_match_what_grader_check_prints_in_the_notebook(tmp_path):
    lab = LABS["L2-A"]
    folder = build_student(lab, tmp_path / "dist")
    wrong = mistakes.mistake_source("missing_clamp")
    notebook = _fill(nbformat.read(folder / f"{lab.id}.ipynb", as_version=4), wrong)
    nbformat.write(notebook, folder / f"{lab.id}.ipynb")
    NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    in_notebook = {}
    for cell in notebook.cells:
        found = re.search(r'grader\.check\("([^"]+)"\)', cell.source) if cell.cell_type == "code" else None
        if found:
            in_notebook[found.group(1)] = _text_outputs(cell).strip()
    assert set(in_notebook) == set(lab.question_names)
    _, printed = run_check(CheckConfig(lab=lab.id, file=folder / f"{lab.id}.ipynb"))
    for question, text in in_notebook.items():
        assert text and text in printed, (question, text)
    assert "yours -118, expected 127" in in_notebook["linear_q_with_scale_and_zero_point"]
    shutil.rmtree(folder)
