"""grader/pictures.py and the report's pictures: drawn from real failing checks, embedded, small, described."""

from __future__ import annotations

import base64
import io
import re

import matplotlib.image
import pytest
import torch

import quant_reference as ref
from grader import capture, pictures
from grader.report import render_student_report
from grader.results import QuestionResult, SubmissionResult, TestResult
from quantlab import checks


def _kept(check, *args, hidden=False, **kwargs) -> dict:
    with checks.collect_failure() as failures:
        with pytest.raises(checks.CheckFailed):
            check(*args, **kwargs)
    return capture.capture(failures[-1], hidden=hidden)


def _truncated(rows, columns, seed=0):
    r = torch.randn(rows, columns, generator=torch.Generator().manual_seed(seed))
    want, scale = ref.linear_q_symmetric(r, torch.int8)
    return r, want, scale, torch.trunc(r / scale).to(torch.int8)


def _codes_capture(hidden=False, rows=3, columns=3, seed=0):
    r, want, scale, got = _truncated(rows, columns, seed)
    return _kept(checks.expect_codes, got, want, exact=r.double() / scale, scale=scale, reveal=not hidden,
                 hidden=hidden)


def _scales_capture(hidden=False):
    w = torch.randn(6, 24, generator=torch.Generator().manual_seed(2))
    _, want = ref.linear_q_symmetric_per_group(w, 6, torch.int8)
    got = want * 127 / 128
    return _kept(checks.expect_scales, got, want, what="scale", layout="per group", unit="group", reveal=not hidden,
                 hidden=hidden)


def _png_size(png: bytes) -> tuple[int, int]:
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    return image.shape[1], image.shape[0]


def _result(captures: list[tuple[dict, bool]]) -> SubmissionResult:
    tests = [TestResult(name=f"test {i}", hidden=hidden, passed=False, score=0.0, max_score=1.0,
                        message="1 of 9 codes differ.", capture=kept) for i, (kept, hidden) in enumerate(captures)]
    tests.append(TestResult(name="passing", hidden=False, passed=True, score=1.0, max_score=1.0))
    question = QuestionResult(name="linear_q_symmetric", score=1.0, max_score=float(len(tests)), tests=tests)
    return SubmissionResult(student="alice", lab="L3-A", questions=[question])


def test_a_public_codes_failure_draws_five_course_panels_and_says_so():
    kept = _codes_capture()
    png = pictures.figure_png(kept)
    assert png.startswith(b"\x89PNG") and _png_size(png)[0] > 5 * 200  # five panels side by side
    words = pictures.describe(kept)
    assert words.startswith("The picture shows the whole 3×3 tensor: the original tensor, your dequantized values, "
                            "the expected dequantized values and the absolute error")
    assert "Codes that differ from the expected ones:" in words and "by -1" in words


def test_a_hidden_failure_draws_only_the_error_and_says_the_expected_values_are_hidden():
    public, hidden = pictures.figure_png(_codes_capture()), pictures.figure_png(_codes_capture(hidden=True))
    assert _png_size(hidden)[0] < _png_size(public)[0] / 2  # two panels (error, sizes of differences) of five
    words = pictures.describe(_codes_capture(hidden=True))
    assert "absolute error of your dequantized values" in words and "not shown" in words
    assert "by -" not in words and "by +" not in words


def test_scale_errors_per_group_are_drawn_and_described():
    words = pictures.describe(_scales_capture())
    assert words.startswith("The picture shows the relative error of your scale for each of the 24 groups")
    assert "24 of 24 groups off" in words and "0.00781" in words and "beside the expected ones" in words
    assert pictures.figure_png(_scales_capture()).startswith(b"\x89PNG")
    assert "beside" not in pictures.describe(_scales_capture(hidden=True))


def test_the_report_embeds_decodable_pictures_with_their_words_and_the_markdown_says_them():
    result = _result([(_codes_capture(), False), (_codes_capture(hidden=True), True), (_scales_capture(), False)])
    html, markdown = render_student_report(result)
    sources = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">', html)
    assert len(sources) == 3
    for data, alt in sources:
        assert _png_size(base64.b64decode(data))[0] > 100 and alt.startswith("The picture shows")
    assert "http" not in html.replace("http-equiv", "")  # stands alone: nothing to fetch
    assert markdown.count("*Picture in the HTML report:*") == 3
    assert "The expected values of a hidden test are not shown" in markdown


def test_a_report_with_many_big_failures_stays_small_and_draws_at_most_max_figures():
    captures = [(_codes_capture(rows=256, columns=512, seed=i), i % 2 == 1) for i in range(12)]
    html, markdown = render_student_report(_result(captures))
    assert html.count("<img ") == pictures.MAX_FIGURES
    assert len(html.encode()) < 1_000_000
    assert markdown.count("*Picture in the HTML report:*") == pictures.MAX_FIGURES  # words for each picture


def test_a_capture_that_is_not_a_picture_is_skipped():
    assert pictures.figure_png({"kind": "codes"}) == b"" and pictures.describe({"kind": "codes"}) == ""
    html, _ = render_student_report(_result([({"kind": "values", "shows": "values"}, False)]))
    assert "<img" not in html


def test_a_picture_that_cannot_be_drawn_is_left_out_and_the_report_still_renders(monkeypatch):
    def broken(capture):
        raise RuntimeError("matplotlib failed")

    monkeypatch.setattr(pictures, "figure_png", broken)
    html, markdown = render_student_report(_result([(_codes_capture(), False)]))
    assert "<img" not in html and "1 of 9 codes differ." in html and "Picture in the HTML report" not in markdown
