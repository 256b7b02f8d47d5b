"""Feedback reports: content, escaping of untrusted strings, truncation, summary statistics."""

from __future__ import annotations

import base64
import copy
import importlib.util
import re
import sys
from pathlib import Path

import pytest
from markupsafe import escape

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

from grader.results import SubmissionResult  # noqa: E402 - importable once _import_report has set sys.path


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


def _texts(html: str, pattern: str) -> list[str]:
    """The visible text of every match of `pattern` (its first group) in `html`."""
    return [_text(found) for found in re.findall(pattern, html, re.S)]


def _score_box(html: str) -> str:
    return _text(html[html.index('<div class="score">'):html.index("</header>")])


CALLOUTS = r'<div class="callout[^"]*">(.*?)</div>'
PRE = r"<pre>(.*?)</pre>"
FOOTER = "Graded by quantization-grader 0.1.0 · torch 2.13.0+cpu · isolation: process"
FOOTER_MD = "---\n*Graded by quantization-grader 0.1.0 · torch 2.13.0+cpu · isolation: process*\n"
QUANTIZE_HEADING = "### 1. linear\\_q\\_with\\_scale\\_and\\_zero\\_point"
TESTS_OF_RESULT_MD = (
    "❌ **Failed** · course fixture: T with scale 3.5 and zero point -70 · 0 / 1  \n"
    "*mismatched codes 1 · max code difference 245 · MSE (dequantized) 1234*\n\n"
    "```text\n1 of 9 codes differ (at [0, 2]: yours -118, expected 127).\nHint: clamp.\n```\n\n"
    "✅ **Passed** · dtype and shape · 1 / 1\n\n"
    "✅ **Passed** · hidden: random 64x64 tensor, int8 · *hidden test* · 5 / 5  \n"
    "*max abs error 1.2e-05 · mismatched codes 0 · MSE (dequantized) 0.0123*\n\n"
)
NOTES_MD = (
    "**Notes about how your notebook ran:**\n\n"
    "```text\n- Cell 5 raised ZeroDivisionError: division by zero. Later cells still ran.\n```\n\n"
)


def _unescaped(text: str, char: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(char), text)
            if len(re.match(r"\\*", text[:m.start()][::-1]).group()) % 2 == 0]


# Content -------------------------------------------------------------------------------------------

def test_all_passed_says_well_done():
    html, markdown = render(_all_passed())
    assert markdown == (
        "## Feedback: Quantization in Depth, lab L2-A\n\n"
        "**Student:** alice · **Score:** 9 / 9 (100%) · **Status:** Graded\n\n"
        "Submission: alice.ipynb (notebook)\n\n"
        f"{QUANTIZE_HEADING}: 7 / 7 points\n\n"
        "✅ **Well done!** All 3 tests passed.\n\n"
        "✅ **Passed** · course fixture: T with scale 3.5 and zero point -70 · 1 / 1  \n"
        "*mismatched codes 1 · max code difference 245 · MSE (dequantized) 1234*\n\n"
        "✅ **Passed** · dtype and shape · 1 / 1\n\n"
        "✅ **Passed** · hidden: random 64x64 tensor, int8 · *hidden test* · 5 / 5  \n"
        "*max abs error 1.2e-05 · mismatched codes 0 · MSE (dequantized) 0.0123*\n\n"
        "### 2. linear\\_dequantization: 2 / 2 points\n\n"
        "✅ **Well done!** The test passed.\n\n"
        "✅ **Passed** · course fixture · 2 / 2\n\n"
        + FOOTER_MD
    )
    assert _score_box(html) == "9 / 9 100% Graded"
    assert _texts(html, CALLOUTS) == ["Well done! All 3 tests passed.", "Well done! The test passed."]


def test_some_failed_shows_scores_metrics_and_what_to_look_at():
    html, markdown = render(_result())
    assert markdown == (
        "## Feedback: Quantization in Depth, lab L2-A\n\n"
        "**Student:** alice · **Score:** 7 / 9 (78%) · **Status:** Graded\n\n"
        "Submission: alice.ipynb (notebook)\n\n"
        + NOTES_MD +
        f"{QUANTIZE_HEADING}: 5 / 7 points\n\n"
        "**What to look at:** Values outside the int8 range wrap around: clamp before casting.\n\n"
        + TESTS_OF_RESULT_MD +
        "### 2. linear\\_dequantization: 2 / 2 points\n\n"
        "✅ **Well done!** The test passed.\n\n"  # the second question passed entirely
        "✅ **Passed** · course fixture · 2 / 2\n\n"
        + FOOTER_MD
    )
    assert _score_box(html) == "7 / 9 78% Graded"
    assert _texts(html, r'<p class="tally muted">(.*?)</p>') == [
        "2 of 3 tests passed · 1 hidden test (inputs not shown)", "1 of 1 test passed"]
    assert _texts(html, r'<span class="verdict-label[^"]*">(.*?)</span>') == [
        "✗ Failed", "✓ Passed", "✓ Passed", "✓ Passed"]
    assert _texts(html, r'<span class="metrics">(.*?)</span>') == [
        "mismatched codes 1 · max code difference 245 · MSE (dequantized) 1234",
        "max abs error 1.2e-05 · mismatched codes 0 · MSE (dequantized) 0.0123",
    ]
    assert re.findall(PRE, html, re.S) == ["1 of 9 codes differ (at [0, 2]: yours -118, expected 127).\nHint: clamp."]
    assert _texts(html, CALLOUTS) == [
        "What to look at Values outside the int8 range wrap around: clamp before casting.",
        "Well done! The test passed.",
    ]
    assert _texts(html, r'<ul class="notes">(.*?)</ul>') == [
        "Cell 5 raised ZeroDivisionError: division by zero. Later cells still ran."]
    assert _texts(html, r"<footer[^>]*>(.*?)</footer>") == [FOOTER]


def test_hidden_marker_shown():
    html, markdown = render(_result())
    assert re.findall(r"<span[^>]*>hidden</span>", html) == [
        '<span class="badge plain" title="The inputs of hidden tests are not shown">hidden</span>']
    assert [line for line in markdown.splitlines() if "hidden" in line] == [
        "✅ **Passed** · hidden: random 64x64 tensor, int8 · *hidden test* · 5 / 5  "]


def test_unreadable_submission():
    html, markdown = render(_unreadable())
    not_read = "**Not run.**\n\n```text\nNot graded: the file could not be read.\n```\n\n"  # no test rows
    assert markdown == (
        "## Feedback: Quantization in Depth, lab L2-A\n\n"
        "**Student:** bob · **Score:** 0 / 9 (0%) · **Status:** Unreadable\n\n"
        "Submission: bob.ipynb\n\n"
        "**We could not read your submission, so it scored 0.** Fix the problem below, check that your "
        "notebook or script runs from top to bottom, then submit again.\n\n"
        "```text\nSyntaxError: invalid syntax (cell 3, line 2)\n```\n\n"
        f"{QUANTIZE_HEADING}: 0 / 7 points\n\n" + not_read +
        "### 2. linear\\_dequantization: 0 / 2 points\n\n" + not_read
        + FOOTER_MD
    )
    assert _score_box(html) == "0 / 9 0% Unreadable"
    assert _texts(html, CALLOUTS) == [
        "We could not read your submission, so it scored 0. Fix the problem below, check that your notebook "
        "or script runs from top to bottom, then submit again.",
        "Not run Not graded: the file could not be read.",
        "Not run Not graded: the file could not be read.",
    ]
    assert re.findall(PRE, html, re.S) == ["SyntaxError: invalid syntax (cell 3, line 2)"]
    assert "Passed" not in html and "Failed" not in html


def test_timeout_question():
    html, markdown = render(_timeout())
    assert markdown.split("\n### ")[2] == (
        "2. linear\\_dequantization: 0 / 2 points\n\n"
        "**Timed out.** Your code did not finish in time, so the remaining tests could not run.\n\n"
        "```text\nYour function did not finish within 20 s.\n```\n\n"
        "❌ **Failed** · course fixture · 0 / 2\n\n"
        "```text\nNot run.\n```\n\n"
        + FOOTER_MD
    )
    assert _texts(html, CALLOUTS)[1] == (
        "Timed out Your code did not finish in time, so the remaining tests could not run. "
        "Your function did not finish within 20 s.")


def test_minimal_result_renders():
    html, markdown = render({"student": "dan", "lab": "L2-A", "score": 0, "max_score": 0})
    assert markdown == (
        "## Feedback: Quantization in Depth, lab L2-A\n\n"
        "**Student:** dan · **Score:** 0 / 0 (—) · **Status:** Graded\n\n"  # no percentage: nothing to score
        "---\n*Graded by quantization-grader ? · torch ? · isolation: ?*\n"
    )
    assert _texts(html, r"<h1>(.*?)</h1>") == ["Feedback for dan"]
    assert _score_box(html) == "0 / 0 — Graded"


# Hostile strings -----------------------------------------------------------------------------------

def test_html_escapes_untrusted_strings():
    html, _ = render(_hostile())
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The grader's message and the test's message, each whole and escaped, in a block of its own.
    assert re.findall(r"<pre>(.*?)</pre>", html, re.S) == [str(escape(HOSTILE))] * 2
    assert html.count("<pre") == html.count("</pre>") == 2


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
    assert blocks == [HOSTILE, f"- {HOSTILE}\n- {'`' * 10}", HOSTILE, HOSTILE]
    assert not [line for line in outside if line.lstrip().startswith("# ")], "heading injected"
    for char in "<`[":
        assert not _unescaped(outside_text, char), f"unescaped {char!r} outside code blocks"
    assert "alert(1)" in outside_text  # the diagnosis is shown, escaped, outside a block


def test_markdown_escapes_student_id():
    _, markdown = render(_hostile())
    line = next(line for line in markdown.splitlines() if line.startswith("**Student:**"))
    assert line == ("**Student:** \\<script\\>alert(1)\\</script\\>\\`x\\`\\*y\\*\\_z\\_ \\# h1"
                    " · **Score:** 7 / 9 (78%) · **Status:** Graded")


def test_markdown_has_no_html_in_normal_report():
    _, markdown = render(_result())
    outside, _ = _split_fences(markdown)
    assert not re.search(r"(?<!\\)<[a-zA-Z/!?]", "\n".join(outside))


def test_long_messages_are_cut():
    huge = ("0123456789" * 99 + "\n") * 1000  # 1 MB
    result = _result(student="x" * 1_000_000, message=huge, notes=[huge])
    result["questions"][0]["tests"][0]["message"] = huge
    html, markdown = render(result)
    cut = huge[:report.MAX_MESSAGE_CHARS] + " " + report.CUT_MARKER
    assert report.truncate_message(huge) == cut
    # HTML: the title, the heading, the message, the note and the test message; Markdown: all but the title.
    assert html.count(report.CUT_MARKER) == 6 and markdown.count(report.CUT_MARKER) == 5
    for text in (html, markdown):
        assert len(text) < 60_000
    assert _texts(html, r"<h1>(.*?)</h1>") == ["Feedback for " + "x" * 200 + " " + report.CUT_MARKER]
    assert re.findall(r"<pre>(.*?)</pre>", html, re.S) == [cut, cut]
    assert _texts(html, r'<ul class="notes">(.*?)</ul>') == [_text(cut)]


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


@pytest.mark.parametrize("text, fence", [
    ("", 3), ("plain", 3), ("a ``` b", 4), ("````", 5), ("x\n```\ny", 4), ("`" * 40, 41),
])
def test_fence_is_longer_than_any_backtick_run(text, fence):
    assert report.md_fence(text) == "`" * fence + "text\n" + text + "\n" + "`" * fence


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
    stats = re.findall(r'<div class="label">(.*?)</div>\s*<div class="value">(.*?)</div></div>', html, re.S)
    assert [(label, _text(value)) for label, value in stats] == [
        ("Submissions", "5"), ("Graded", "4"), ("Unreadable", "1"),
        ("Mean score", "5.6 / 9"),  # mean of 7, 9, 0, 5, 7
        ("Median score", "7 / 9"),
    ]
    isolation = html.index("Isolation:")
    assert (_text(html[isolation:html.index("</div>", isolation)])
            == "Isolation: container (1), process (4) · grader 0.1.0")
    assert re.findall(r'href="(reports/[^"]*)"', html)[1:] == [
        f"reports/{s}.html" for s in ("alice", "bob", "carol", "dave")]


def test_summary_pass_rates():
    html = summary(_class())
    assert _texts(html, r'<tr class="(?:question|test)">(.*?)</tr>') == [
        # Full marks only in dave; the failed course fixture costs the others (bob's were not run).
        "linear_q_with_scale_and_zero_point 1 / 4 25%",
        "course fixture: T with scale 3.5 and zero point -70 1 / 4 25%",
        "dtype and shape 4 / 4 100%",  # passed in all 4 graded submissions
        "hidden: random 64x64 tensor, int8 hidden 4 / 4 100%",
        # Full marks in alice, dave, hostile; carol timed out.
        "linear_dequantization 3 / 4 75% Timed out: 1",
        "course fixture 3 / 4 75%",
    ]


def test_summary_escapes_student_id_and_link():
    html = summary(_class())
    assert "<script" not in html.lower()
    assert "<img" not in html.replace('<img class="hist"', "")
    link = re.search(r'href="(reports/%3Cscript[^"]*)"', html).group(1)
    assert link == "reports/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%60x%60%2Ay%2A_z_%0A%23%20h1.html"  # no "/"


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
    assert html == "Use <code>int(round(z))</code> not &lt;b&gt;<code>int(z)</code>&lt;/b&gt;"
    assert str(report.html_code_spans("odd ` count <i>")) == "odd ` count &lt;i&gt;"
    md = report.md_code_spans("Use `int(round(z))`, not *bold* <b>")
    assert md == "Use `int(round(z))`, not \\*bold\\* \\<b\\>"


def _class_with_mistakes():
    """alice and carol clamp nothing (missing_clamp); carol and erin's scale fits two mistakes."""
    results = _class()
    results[0]["questions"][0]["mistake"] = "missing_clamp"
    results[3]["questions"][0]["mistake"] = "missing_clamp"
    results[3]["questions"][1]["mistake"] = "sym_scale_128 or sym_scale_127_5"
    erin = _result(student="erin")
    erin["questions"][1]["mistake"] = "sym_scale_128"
    return results + [erin]


MISCONCEPTIONS = r'<section class="card" id="misconceptions">(.*?)</section>'


def test_summary_misconceptions_table_counts_students_and_links_their_reports():
    html = summary(_class_with_mistakes())
    section = re.search(MISCONCEPTIONS, html, re.S).group(1)
    rows = _texts(section, r"<tbody>.*?</tbody>")[0]
    assert rows == (
        "No clamp to the integer range (codes wrap around) missing_clamp in linear_q_with_scale_and_zero_point "
        "2 alice , carol "
        "Symmetric scale divided by 128 instead of 127 sym_scale_128 in linear_dequantization 2 carol , erin "
        "Symmetric scale divided by 127.5 sym_scale_127_5 in linear_dequantization 1 carol")
    assert re.findall(r'href="(reports/[^"]*)"', section) == [
        "reports/alice.html", "reports/carol.html", "reports/carol.html", "reports/erin.html", "reports/carol.html"]


def test_summary_says_when_no_mistake_was_recognised_and_escapes_an_unknown_id():
    assert "recognised no known mistake" in summary(_class())
    results = _class()
    results[0]["questions"][0]["mistake"] = SCRIPT
    html = summary(results)
    assert "<script" not in html.lower() and "&lt;script&gt;" in re.search(MISCONCEPTIONS, html, re.S).group(1)


def test_summary_error_per_question_table_and_picture():
    results = _class()
    for test in results[1]["questions"][0]["tests"]:  # dave's codes are all right
        test["metrics"] = {name: 0.0 for name in test["metrics"]}
    html = summary(results)
    section = re.search(r'<section class="card" id="errors">(.*?)</section>', html, re.S).group(1)
    # Per student (4 with metrics: bob's file was unreadable), the largest value over the question's tests:
    # alice, carol and the hostile one 1 code off by 245 (MSE 1234.5, max abs error 1.2e-05), dave none.
    assert _texts(section, r"<tr>(.*?)</tr>")[1:] == [
        # question, measure, students, no error, median, 90th percentile, largest
        "linear_q_with_scale_and_zero_point max abs error 4 1 1.2e-05 1.2e-05 1.2e-05",
        "linear_q_with_scale_and_zero_point mismatched codes 4 1 1 1 1",
        "linear_q_with_scale_and_zero_point max code difference 4 1 245 245 245",
        "linear_q_with_scale_and_zero_point MSE (dequantized) 4 1 1234 1234 1234",
    ]
    picture = re.search(r'<img class="hist" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', section).group(1)
    assert base64.b64decode(picture).startswith(b"\x89PNG")


def test_a_helper_at_fault_is_named_with_where_it_is_graded():
    result = _all_passed()
    result["lab"] = "L3-B"
    result["questions"][1].update(
        name="linear_q_symmetric", score_with_own_helpers=0.0,
        helpers_at_fault=[{"name": "get_q_scale_symmetric", "lab": "L3-A", "question": "get_q_scale_symmetric"}])
    result["questions"][0].update(
        score=3.0, max_score=7.0, score_with_own_helpers=1.0,
        tests=[_test("course fixture", False, max_score=4.0), _test("dtype", True, score=3.0, max_score=3.0)],
        helpers_at_fault=[{"name": "linear_q_with_scale_and_zero_point", "lab": "L2-A",
                           "question": "linear_q_with_scale_and_zero_point"},
                          {"name": "quantization_error", "lab": "L3-B", "question": "quantization_error"}])
    html, markdown = render(result)
    assert (
        "**A helper of yours was at fault:** Some of these tests failed because of your `get_q_scale_symmetric` "
        "(graded in lab L3-A, question `get_q_scale_symmetric`), not because of `linear_q_symmetric` itself. "
        "So we ran them again with a correct `get_q_scale_symmetric` in its place, and your `linear_q_symmetric` "
        "earned 2 of 2 points, instead of 0 with your own helper: you get those points here. Fix "
        "`get_q_scale_symmetric` where it is graded, and `linear_q_symmetric` will give the right results with "
        "your own code too."
    ) in markdown
    assert ("your `linear_q_with_scale_and_zero_point` (graded in lab L2-A, question "
            "`linear_q_with_scale_and_zero_point`) and `quantization_error` (graded in this lab, question "
            "`quantization_error`)") in markdown
    assert "earned 3 of 7 points, instead of 1 with your own helpers" in markdown
    assert "What still fails below comes from this function's own code." in markdown
    assert html.count("A helper of yours was at fault") == 2
    assert ("<code>get_q_scale_symmetric</code> (graded in lab L3-A, question "
            "<code>get_q_scale_symmetric</code>)") in html


def test_a_helper_name_from_a_stored_result_stays_escaped():
    result = _all_passed()
    result["questions"][1].update(score_with_own_helpers=0.0,
                                  helpers_at_fault=[{"name": SCRIPT, "lab": IMG, "question": "q"}])
    html, markdown = render(result)
    assert SCRIPT not in html and IMG not in html
    assert not re.search(r"(?<!\\)<(script|img)", markdown) and "\\<script\\>" in markdown
