"""Feedback reports: content, escaping of untrusted strings, truncation, summary statistics."""

from __future__ import annotations

import base64
import copy
import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _import_report():
    if (ROOT / "grader" / "__init__.py").exists():
        sys.path.insert(0, str(ROOT))
        from grader import report

        return report
    spec = importlib.util.spec_from_file_location("grader_report", ROOT / "grader" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = _import_report()

from grader.results import SubmissionResult  # noqa: E402


def render(result: dict) -> tuple[str, str]:
    return report.render_student_report(SubmissionResult.from_dict(result))


def summary(results: list[dict]) -> str:
    return report.render_summary("L2-A", [SubmissionResult.from_dict(r) for r in results])

SCRIPT = "<script>alert(1)</script>"
IMG = "</pre><img src=x onerror=alert(1)>"
JINJA = "{{ 7*7 }}{% for x in range(3) %}X{% endfor %}"
BACKTICKS = "```\n# Heading injected\n````\n<b>bold</b>\n`````"
HOSTILE = f"{SCRIPT}\n{IMG}\n{JINJA}\n{BACKTICKS}\n[click](javascript:alert(1)) **bold** &lt;"


def _test(name, passed, score=1.0, max_score=1.0, hidden=False, message="", metrics=None):
    return {"name": name, "hidden": hidden, "passed": passed, "score": score if passed else 0.0,
            "max_score": max_score, "message": message, "metrics": metrics or {}}


def _result(student="alice", **changes):
    result = {
        "student": student, "lab": "L2-A", "score": 7.0, "max_score": 9.0, "status": "graded", "message": "",
        "submission": {"file": f"{student}.ipynb", "sha256": "ab" * 32, "kind": "notebook"},
        "notes": ["Cell 5 raised ZeroDivisionError: division by zero. Later cells still ran."],
        "questions": [
            {"name": "linear_q_with_scale_and_zero_point", "score": 5.0, "max_score": 7.0, "status": "ok",
             "message": "", "diagnosis": "Values outside the int8 range wrap around: clamp before casting.",
             "tests": [
                 _test("course fixture: T with scale 3.5 and zero point -70", False,
                       message="1 of 9 codes differ (at [0, 2]: yours -118, expected 127).\nHint: clamp.",
                       metrics={"mismatched_codes": 1.0, "max_code_difference": 245.0, "dequantized_mse": 1234.5}),
                 _test("dtype and shape", True),
                 _test("hidden: random 64x64 tensor, int8", True, score=5.0, max_score=5.0, hidden=True,
                       metrics={"mismatched_codes": 0.0, "max_abs_error": 1.2e-05, "dequantized_mse": 0.0123}),
             ]},
            {"name": "linear_dequantization", "score": 2.0, "max_score": 2.0, "status": "ok", "message": "",
             "diagnosis": None, "tests": [_test("course fixture", True, score=2.0, max_score=2.0)]},
        ],
        "grader": {"version": "0.1.0", "torch": "2.13.0+cpu", "isolation": "process",
                   "material": "0" * 64},
    }
    result.update(changes)
    return result


def _all_passed():
    result = _result()
    for q in result["questions"]:
        for t in q["tests"]:
            t.update(passed=True, score=t["max_score"], message="")
        q.update(score=sum(t["score"] for t in q["tests"]), diagnosis=None)
    result.update(score=9.0, notes=[])
    return result


def _unreadable():
    """Shaped like grader.grade.submission: every question present, status not_run."""
    result = _result(student="bob", status="unreadable", score=0.0, notes=[],
                     message="SyntaxError: invalid syntax (cell 3, line 2)",
                     submission={"file": "bob.ipynb", "kind": None, "sha256": None})
    for q in result["questions"]:
        q.update(status="not_run", score=0.0, diagnosis=None, message="Not graded: the file could not be read.")
        for t in q["tests"]:
            t.update(passed=False, score=0.0, message="Not graded: the file could not be read.", metrics={})
    return result


def _timeout():
    result = _result(student="carol")
    result["score"] = 5.0
    result["questions"][1].update(status="timeout", score=0.0, message="Your function did not finish within 20 s.",
                                  tests=[_test("course fixture", False, max_score=2.0, message="Not run.")])
    return result


def _hostile():
    result = _result(student=SCRIPT + "`x`*y*_z_\n# h1", message=HOSTILE, notes=[HOSTILE, "`" * 10])
    question = result["questions"][0]
    question.update(message=HOSTILE, diagnosis=HOSTILE)
    question["tests"][0]["message"] = HOSTILE
    return result


# Markdown helpers ---------------------------------------------------------------------------------

def _split_fences(markdown: str) -> tuple[list[str], list[str]]:
    """(text outside fenced blocks, contents of each fenced block), per CommonMark backtick fences."""
    outside, blocks, current, fence = [], [], None, None
    for line in markdown.split("\n"):
        if fence is None:
            opening = re.match(r"^ {0,3}(`{3,})[^`]*$", line)
            if opening:
                fence, current = opening.group(1), []
            else:
                outside.append(line)
        elif re.match(rf"^ {{0,3}}`{{{len(fence)},}}\s*$", line):
            blocks.append("\n".join(current))
            fence = None
        else:
            current.append(line)
    assert fence is None, "a fenced block is left open"
    return outside, blocks


def _text(html: str) -> str:
    """The visible text of an HTML page, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]*>", " ", html).split())


def _unescaped(text: str, char: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(char), text)
            if len(re.match(r"\\*", text[:m.start()][::-1]).group()) % 2 == 0]


# Content -------------------------------------------------------------------------------------------

def test_all_passed_says_well_done():
    html, markdown = render(_all_passed())
    for text in (_text(html), markdown):
        assert "Well done" in text
        assert "What to look at" not in text
        assert "9 / 9" in text
        assert "100%" in text


def test_some_failed_shows_scores_metrics_and_what_to_look_at():
    html, markdown = render(_result())
    for text in (_text(html), markdown):
        assert "7 / 9" in text and "78%" in text
        assert "5 / 7" in text
        assert "What to look at" in text
        assert "Failed" in text and "Passed" in text
        assert "Well done" in text  # the second question passed entirely
        assert "0.1.0" in text.replace("\\", "") and "2.13.0+cpu" in text.replace("\\", "")
        assert "process" in text
    assert "mismatched codes 1 · max code difference 245 · MSE (dequantized) 1234" in html
    assert "max abs error 1.2e-05 · mismatched codes 0 · MSE (dequantized) 0.0123" in html
    assert "<pre>1 of 9 codes differ (at [0, 2]: yours -118, expected 127).\nHint: clamp.</pre>" in html
    assert "Values outside the int8 range wrap around" in html
    assert "Cell 5 raised ZeroDivisionError" in html


def test_hidden_marker_shown():
    html, markdown = render(_result())
    assert ">hidden</span>" in html
    assert "hidden test" in markdown


def test_unreadable_submission():
    html, markdown = render(_unreadable())
    for text in (_text(html), markdown):
        assert "could not read your submission" in text
        assert "SyntaxError: invalid syntax (cell 3, line 2)" in text
        assert "0 / 9" in text
        assert "Unreadable" in text
        assert "Not run" in text
        assert text.count("Not graded: the file could not be read.") == 2  # once per question, no test rows
        assert "Passed" not in text and "Failed" not in text


def test_timeout_question():
    html, markdown = render(_timeout())
    for text in (html, markdown):
        assert "Timed out" in text
        assert "did not finish within 20 s" in text


def test_minimal_result_renders():
    html, markdown = render({"student": "dan", "lab": "L2-A", "score": 0, "max_score": 0})
    assert "dan" in html and "dan" in markdown
    assert "—" in html  # no percentage when nothing can be scored


# Hostile strings -----------------------------------------------------------------------------------

def test_html_escapes_untrusted_strings():
    html, _ = render(_hostile())
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<pre") == html.count("</pre>")


def test_jinja_syntax_in_data_is_not_evaluated():
    html, markdown = render(_hostile())
    assert "{{ 7*7 }}" in html and "{{ 7*7 }}" in markdown
    assert "XXX" not in html and "XXX" not in markdown
    assert "49" not in html and "49" not in markdown


def test_markdown_keeps_hostile_text_inside_fences():
    _, markdown = render(_hostile())
    outside, blocks = _split_fences(markdown)
    outside_text = "\n".join(outside)
    # Each hostile message survives whole inside one block: the fence was never broken.
    assert sum(HOSTILE in block for block in blocks) >= 3
    assert any("`" * 10 in block for block in blocks)
    assert not [line for line in outside if line.lstrip().startswith("# ")], "heading injected"
    for char in "<`[":
        assert not _unescaped(outside_text, char), f"unescaped {char!r} outside code blocks"
    assert "alert(1)" in outside_text  # the diagnosis is shown, escaped, outside a block


def test_markdown_escapes_student_id():
    _, markdown = render(_hostile())
    line = next(line for line in markdown.splitlines() if line.startswith("**Student:**"))
    assert "\\<script\\>" in line
    assert "\\`x\\`\\*y\\*\\_z\\_ \\# h1" in line


def test_markdown_has_no_html_in_normal_report():
    _, markdown = render(_result())
    outside, _ = _split_fences(markdown)
    assert not re.search(r"(?<!\\)<[a-zA-Z/!?]", "\n".join(outside))


def test_long_messages_are_cut():
    huge = ("0123456789" * 99 + "\n") * 1000  # 1 MB
    result = _result(student="x" * 1_000_000, message=huge, notes=[huge])
    result["questions"][0]["tests"][0]["message"] = huge
    html, markdown = render(result)
    for text in (html, markdown):
        assert len(text) < 60_000
        assert text.count(report.CUT_MARKER) >= 4
    assert report.truncate_message(huge) == huge[:report.MAX_MESSAGE_CHARS] + " " + report.CUT_MARKER


# Filters -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, shown", [
    (3, "3"), (3.0, "3"), (1.2e-05, "1.2e-05"), (0.0123456, "0.01235"), (1234.5, "1234"),
    (0.0, "0"), (2.5, "2.5"), (float("nan"), "nan"),
])
def test_metric_value_format(value, shown):
    assert report.format_metric_value(value) == shown


def test_metrics_order_and_unknown_names():
    metrics = {"dequantized_mse": 0.0123, "mismatched_codes": 3.0, "max_abs_error": 1.2e-05, "odd_thing": 2.0}
    assert report.format_metrics(metrics) == (
        "max abs error 1.2e-05 · mismatched codes 3 · MSE (dequantized) 0.0123 · odd thing 2")
    assert report.format_metrics({}) == ""


@pytest.mark.parametrize("text", ["", "plain", "a ``` b", "````", "x\n```\ny", "`" * 40])
def test_fence_is_longer_than_any_backtick_run(text):
    block = report.md_fence(text)
    fence = re.match(r"`+", block).group()
    assert block.endswith("\n" + fence)
    assert all(len(run) < len(fence) for run in re.findall(r"`+", text))
    assert block[len(fence):].startswith("text\n")


def test_md_inline_escapes_structure():
    assert report.md_inline("a_b *c* [x](y) <i> | ~~s~~ & #") == (
        "a\\_b \\*c\\* \\[x\\](y) \\<i\\> \\| \\~\\~s\\~\\~ \\& \\#")
    assert report.md_inline("line\n# heading") == "line \\# heading"
    assert report.md_inline("- item") == "\\- item"
    assert report.md_inline("1. item") == "1\\. item"


def test_autoescape_by_extension():
    assert report.ENV.get_template("report.html.j2").environment.autoescape("report.html.j2")
    assert not report.ENV.autoescape("report.md.j2")
    assert report.ENV.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


# Summary -------------------------------------------------------------------------------------------

def _class():
    results = [_result(), _all_passed(), _unreadable(), _timeout(), _hostile()]
    results[1]["student"] = "dave"
    results[3]["grader"] = dict(results[3]["grader"], isolation="container")
    return results


def test_summary_counts_and_statistics():
    html = summary(_class())
    assert re.search(r"Submissions</div><div class=\"value\">5<", html)
    assert re.search(r"Graded</div><div class=\"value\">4<", html)
    assert re.search(r"Unreadable</div><div class=\"value\">1<", html)
    assert "5.6" in html  # mean of 7, 9, 0, 5, 7
    assert ">7 <" in html  # median
    assert "container" in html and "process" in html
    assert "reports/alice.html" in html and "reports/bob.html" in html


def test_summary_pass_rates():
    html = summary(_class())
    # linear_dequantization: full marks in alice, dave, hostile; carol timed out; bob's were not run.
    row = html[html.index("<code>linear_dequantization</code>"):]
    assert "3 / 4" in row[:400] and "75%" in row[:400]
    assert "Timed out: 1" in row[:800]
    # "dtype and shape" passed in all 4 graded submissions.
    assert re.search(r"dtype and shape</td>\s*<td class=\"num\">4 / 4</td>", html)


def test_summary_escapes_student_id_and_link():
    html = summary(_class())
    assert "<script" not in html.lower()
    assert "<img" not in html.replace('<img class="hist"', "")
    link = re.search(r'href="(reports/%3Cscript[^"]*)"', html).group(1)
    assert "/" not in link[len("reports/"):]


def test_histogram_is_a_png_data_uri():
    html = summary(_class())
    uri = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html).group(1)
    assert base64.b64decode(uri).startswith(b"\x89PNG\r\n\x1a\n")
    assert report.histogram_png([0.0, 30.5, 50.0], 50.0).startswith(b"\x89PNG")


def test_summary_without_results():
    html = summary([])
    assert "No submissions yet" in html
    assert "data:image/png" not in html


def test_render_does_not_mutate_input():
    result = SubmissionResult.from_dict(_hostile())
    before = copy.deepcopy(result)
    report.render_student_report(result)
    report.render_summary("L2-A", [result])
    assert result == before


def test_diagnosis_code_spans_render_as_code_and_stay_escaped():
    html = str(report.html_code_spans("Use `int(round(z))` not <b>`int(z)`</b>"))
    assert "<code>int(round(z))</code>" in html and "<b>" not in html and "&lt;b&gt;" in html
    assert str(report.html_code_spans("odd ` count <i>")) == "odd ` count &lt;i&gt;"
    md = report.md_code_spans("Use `int(round(z))`, not *bold* <b>")
    assert md.startswith("Use `int(round(z))`, not") and "\\*bold\\*" in md and "<b>" not in md
