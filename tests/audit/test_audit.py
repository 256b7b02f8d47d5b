"""`grader audit LAB`: every lab's hidden tests catch every catalogued mistake and pass every correct style.

One audit (one graded batch, in the sandbox) per lab, with the suite's correct styles given as
correct programs; and one audit shown things to find, to prove it finds them.
"""

import dataclasses

import pytest

import batches
import mistakes
import quant_mistakes
from grader.audit import audit, programs
from grader.cli import main as cli_main
from grader.config import AuditConfig
from grader.labs import LABS, get_lab


def _styles(folder, lab):
    paths = []
    for style, source in mistakes.styles_for(lab).items():
        path = folder / f"{style}.py"
        path.write_text(source)
        paths.append(path)
    return tuple(paths)


@pytest.mark.parametrize("lab_id", list(LABS))
def test_the_audit_finds_nothing_in_any_lab_today(lab_id, tmp_path):
    lab = LABS[lab_id]
    correct = _styles(tmp_path, lab)
    assert len(correct) >= 2  # the styles that define the lab's functions, and its example bob.py
    findings, graded, isolation = audit(AuditConfig(lab=lab_id, correct=correct, jobs=2,
                                                    limits=batches.limits_for(lab)))
    assert findings == []
    assert graded == len(batches.mistakes_for(lab)) + 1 + len(correct)  # mistakes, course code, styles
    assert isolation.startswith("bubblewrap")


def test_the_programs_are_the_labs_mistakes_and_the_course_code():
    lab = get_lab("L3-B")
    written = programs(lab, ())
    mistaken = {p.name.removeprefix("mistake "): p.affects for p in written.values() if p.affects is not None}
    assert mistaken == batches.mistakes_for(lab)
    [course] = [p for p in written.values() if p.affects is None]
    assert course.content.decode() == quant_mistakes.source(None)


def test_an_uncaught_mistake_and_a_failing_correct_program_are_found(tmp_path, monkeypatch, capsys):
    # A catalogue that claims `missing_clamp` also costs linear_dequantization, which it leaves correct:
    # no test can catch it there. And a "correct" program that is in fact a mistake.
    key = "missing_clamp"
    claimed = dataclasses.replace(quant_mistakes.MISTAKES[key],
                                  affects={"L2-A": ("linear_q_with_scale_and_zero_point", "linear_dequantization")})
    monkeypatch.setitem(quant_mistakes.MISTAKES, key, claimed)
    wrong = tmp_path / "not_correct.py"
    wrong.write_text(mistakes.mistake_source("dequant_sign"))
    status = cli_main(["audit", "L2-A", "--correct", str(wrong), "-j", "2", "--question-timeout", "20"])
    out = capsys.readouterr().out
    assert status == 1
    assert "2 finding(s)" in out
    assert f"mistake {key} on linear_dequantization: scores full marks (8 / 8): no test catches it" in out
    assert f"mistake {key} on linear_q_with_scale_and_zero_point" not in out  # there it is caught
    assert f"correct program ({wrong}) on linear_dequantization: loses marks" in out


def test_an_unknown_lab_or_a_missing_program_stops_the_audit(tmp_path, capsys):
    assert cli_main(["audit", "L9-Z"]) == 2
    assert "unknown lab" in capsys.readouterr().err
    assert cli_main(["audit", "L2-A", "--correct", str(tmp_path / "nowhere.py")]) == 2
    assert "correct program not found" in capsys.readouterr().err
