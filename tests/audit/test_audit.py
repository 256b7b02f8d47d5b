"""`grader audit LAB`: every lab's hidden tests catch every catalogued mistake and pass every correct style.

Per lab, the audit's judgement of the lab's programs as the suite's graded batch holds them (graded
once, in the sandbox, for this and tests/grade/); and one whole `grader audit` run, shown things to
find, to prove it grades its programs and finds them.
"""

import dataclasses

import pytest

import batches
import mistakes
import quant_mistakes
from grader.audit import Program, findings, programs
from grader.cli import main as cli_main
from grader.labs import LABS, get_lab


@pytest.mark.parametrize("lab_id", [pytest.param(lab, marks=batches.group(lab)) for lab in LABS])
def test_the_audit_finds_nothing_in_any_lab_today(lab_id, tmp_path_factory):
    """The audit's judgement (`grader.audit.findings`) of the lab's programs, graded once for the suite:
    the lab's batch holds each program `audit` writes (the mistakes, the course code) and the suite's
    correct styles, which `audit` would take as `--correct` programs."""
    lab = LABS[lab_id]
    graded = batches.graded(lab, tmp_path_factory)
    file_of = {path.read_bytes(): path.name for path in graded.folder.iterdir()}
    written = {file_of[program.content]: program for program in programs(lab, ()).values()}
    styles = {f"ok_{style}.py": Program(f"correct program ({style})", source.encode(), None)
              for style, source in mistakes.styles_for(lab).items()}
    assert len(styles) >= 2  # the styles that define the lab's functions, and its example bob.py
    written.update(styles)
    results = [graded.results[name.removesuffix(".py")] for name in written]
    assert len(results) == len(batches.mistakes_for(lab)) + len(styles)  # the course code is a style too
    assert findings(results, written) == []
    assert all(result.grader.isolation.startswith("bubblewrap") for result in results)


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
    graded = len(batches.mistakes_for(LABS["L2-A"])) + 2  # the mistakes, the course code, the given program
    assert f"Audit of L2-A: {graded} program(s) graded against the hidden tests (bubblewrap" in out
    assert "2 finding(s)" in out
    assert f"mistake {key} on linear_dequantization: scores full marks (8 / 8): no test catches it" in out
    assert f"mistake {key} on linear_q_with_scale_and_zero_point" not in out  # there it is caught
    assert f"correct program ({wrong}) on linear_dequantization: loses marks" in out


def test_an_unknown_lab_or_a_missing_program_stops_the_audit(tmp_path, capsys):
    assert cli_main(["audit", "L9-Z"]) == 2
    assert "unknown lab" in capsys.readouterr().err
    assert cli_main(["audit", "L2-A", "--correct", str(tmp_path / "nowhere.py")]) == 2
    assert "correct program not found" in capsys.readouterr().err
