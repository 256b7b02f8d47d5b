"""grader/capture.py: what a failing tensor check keeps for the report, with real right and wrong values."""

from __future__ import annotations

import json

import pytest
import torch

import quant_reference as ref
from grader import capture
from quantlab import checks


def _failure(check, *args, **kwargs) -> checks.Failure:
    """The Failure that `check` records when it fails (it must fail)."""
    with checks.collect_failure() as failures:
        with pytest.raises(checks.CheckFailed):
            check(*args, **kwargs)
    assert len(failures) == 1
    return failures[0]


def _truncated(rows=40, columns=50, seed=0):
    """The course's symmetric quantization of a random tensor, and the same codes truncated (round_truncate_cast)."""
    r = torch.randn(rows, columns, generator=torch.Generator().manual_seed(seed))
    want, scale = ref.linear_q_symmetric(r, torch.int8)
    got = torch.trunc(r / scale).to(torch.int8)
    return r, want, scale, got


def test_a_passing_check_records_nothing_and_a_notebook_keeps_nothing():
    r, want, scale, _ = _truncated()
    with checks.collect_failure() as failures:
        checks.expect_codes(want.clone(), want, exact=r.double() / scale, scale=scale)
    assert failures == []
    with pytest.raises(checks.CheckFailed):  # outside collect_failure: raises as before, keeps nothing
        checks.expect_codes(torch.zeros_like(want), want)


def test_failing_codes_keep_the_original_yours_expected_and_error_around_the_largest_error():
    r, want, scale, got = _truncated()
    got[30, 45] = 127  # the largest error, away from the top-left corner
    kept = capture.capture(_failure(checks.expect_codes, got, want, exact=r.double() / scale, scale=scale),
                           hidden=False)
    assert kept["kind"] == "codes" and kept["shows"] == "dequantized" and kept["shape"] == [40, 50]
    rows, columns = kept["window"]["rows"], kept["window"]["columns"]
    assert rows[1] - rows[0] == columns[1] - columns[0] == capture.MAX_SIDE
    assert rows[0] <= 30 < rows[1] and columns[0] <= 45 < columns[1]
    window = (slice(*rows), slice(*columns))
    original, yours, expected = (torch.tensor(kept[k], dtype=torch.float64) for k in ("original", "yours", "expected"))
    assert torch.allclose(original, r[window].double(), rtol=1e-3)
    assert torch.allclose(yours, scale * got[window].double(), rtol=1e-3)
    assert torch.allclose(expected, scale * want[window].double(), rtol=1e-3)
    error = (scale * (got.double() - want.double())).abs()[window]
    assert torch.allclose(torch.tensor(kept["abs_error"], dtype=torch.float64), error, rtol=1e-3)
    assert kept["largest_error"] == pytest.approx(float((scale * (got.double() - want.double())).abs().max()), 1e-3)
    differences = dict(map(tuple, kept["code_differences"]))
    assert sum(differences.values()) == want.numel()
    assert differences[0] == int((got == want).sum()) and min(differences) < 0 < max(differences)


@pytest.mark.parametrize("hidden, reveal", [(True, True), (False, False), (True, False)])
def test_hidden_cases_keep_only_the_students_error(hidden, reveal):
    r, want, scale, got = _truncated()
    failure = _failure(checks.expect_codes, got, want, exact=r.double() / scale, scale=scale, reveal=reveal)
    kept = capture.capture(failure, hidden=hidden)
    assert kept["original"] is kept["yours"] is kept["expected"] is None
    assert all(d >= 0 for d, _ in kept["code_differences"])  # sizes only: no signed difference
    assert kept["abs_error"] and kept["largest_error"] > 0
    # Nothing in the record equals an expected dequantized value that is not also an error value.
    expected_values = {round(float(v), 4) for v in (scale * want.double()).reshape(-1) if v != 0}
    errors = {round(float(v), 4) for row in kept["abs_error"] for v in row}
    kept_numbers = {round(float(v), 4) for v in json.dumps(kept).replace("[", " ").replace("]", " ")
                    .replace(",", " ").split() if _is_number(v)}
    assert not (kept_numbers - errors - {0.0, float(kept["largest_error"])}) & expected_values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_a_big_tensor_is_shown_as_a_window_and_two_runs_keep_the_same_bytes():
    r, want, scale, got = _truncated(256, 512, seed=3)
    first = capture.capture(_failure(checks.expect_codes, got, want, scale=scale), hidden=False)
    second = capture.capture(_failure(checks.expect_codes, got, want, scale=scale), hidden=False)
    assert json.dumps(first) == json.dumps(second)
    assert len(first["yours"]) == capture.MAX_SIDE and all(len(row) == capture.MAX_SIDE for row in first["yours"])
    assert first["original"] is None  # the check was not given `exact`: it does not know the original
    assert len(json.dumps(first)) < 40_000


def test_codes_without_a_scale_show_the_codes_and_a_3d_tensor_is_seen_as_first_dim_by_the_rest():
    want = torch.arange(60, dtype=torch.int8).reshape(3, 4, 5)
    got = want.clone()
    got[2, 3, 4] = 0
    kept = capture.capture(_failure(checks.expect_codes, got, want), hidden=False)
    assert kept["shows"] == "codes" and kept["window"] == {"rows": [0, 3], "columns": [0, 20]}
    assert kept["yours"][2][19] == 0 and kept["expected"][2][19] == 59 and kept["abs_error"][2][19] == 59


def test_floating_values_and_forward_outputs():
    want = torch.linspace(-1, 1, 30).reshape(5, 6)
    kept = capture.capture(_failure(checks.expect_close, want + 0.5, want, what="dequantized tensor"), hidden=False)
    assert kept["kind"] == "values" and kept["code_differences"] is None
    assert kept["largest_error"] == pytest.approx(0.5)
    output = capture.capture(_failure(checks.expect_output, want * 2, want.double(), what="output", tol=1e-5),
                             hidden=True)
    assert output["kind"] == "values" and output["expected"] is None and output["largest_error"] == 1.0


def test_per_group_scales_keep_the_relative_error_of_each_group():
    w = torch.randn(8, 32, generator=torch.Generator().manual_seed(1))
    _, want = ref.linear_q_symmetric_per_group(w, 8, torch.int8)
    got = want.clone()
    got[3] *= 128 / 127
    kept = capture.capture(_failure(checks.expect_scales, got, want, what="scale", layout="per group", unit="group"),
                           hidden=False)
    assert kept["kind"] == "scales" and kept["unit"] == "group" and kept["units"] == 32 and kept["per_bar"] == 1
    assert [i for i, e in enumerate(kept["relative_error"]) if e > 1e-6] == [3]
    assert kept["relative_error"][3] == pytest.approx(1 / 127, rel=1e-3)
    assert len(kept["yours"]) == len(kept["expected"]) == 32
    hidden = capture.capture(_failure(checks.expect_scales, got, want, what="scale", layout="g", unit="group",
                                      reveal=False), hidden=True)
    assert hidden["yours"] is hidden["expected"] is None and hidden["relative_error"] == kept["relative_error"]


def test_many_scales_are_pooled_into_bars_of_their_largest_error():
    want = torch.rand(1000, 1) + 0.5
    got = want.clone()
    got[999] *= 2
    kept = capture.capture(_failure(checks.expect_close, got, want, what="scales", unit="row"), hidden=False)
    assert kept["kind"] == "scales" and kept["unit"] == "row" and kept["units"] == 1000
    assert kept["per_bar"] == 4 and len(kept["relative_error"]) == 250
    assert kept["relative_error"][-1] == pytest.approx(1.0) and max(kept["relative_error"][:-1]) == 0
    assert kept["yours"] is None  # pooled bars have no one scale to draw


def test_non_finite_expected_values_stay_strict_json():
    want = torch.tensor([1.0, float("nan"), 3.0])
    kept = capture.capture(_failure(checks.expect_close, torch.tensor([1.0, 2.0, 4.0]), want, what="v"),
                           hidden=False)
    json.dumps(kept, allow_nan=False)
    assert kept["expected"][0][1] is None


def test_a_failure_that_cannot_be_kept_keeps_nothing_and_raises_nothing():
    want = torch.zeros(4, 4, dtype=torch.int8)
    failure = _failure(checks.expect_codes, torch.ones(4, 4, dtype=torch.int8), want)
    failure.scale = torch.ones(3)  # broadcasts against nothing
    assert capture.capture(failure, hidden=False) is None
