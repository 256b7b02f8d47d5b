"""Tests of assignments/quantlab/checks.py with real right and wrong values (docs/course.md §2, §5, §7)."""

from __future__ import annotations

import collections
import importlib
import re
import warnings

import numpy as np
import pytest
import torch

import quant_reference as ref
from ci import in_ci
from quantlab import checks, fixtures
from quantlab.checks import CheckFailed

INT8, UINT8, INT16 = torch.int8, torch.uint8, torch.int16
NAN, INF = float("nan"), float("inf")
#: The module of the torch oracle of docs/course.md §6.
ORACLE = "torch.ao.quantization.fx._decomposed"

# L2-A fixture (T, s=3.5, z=-70) and the §5 wrong answers for it
Q_L2A = [[-15, -74, 127], [-44, 14, -123], [-70, 126, 0]]
Q_TRUNCATE = [[-15, -73, 127], [-43, 14, -122], [-70, 125, 0]]
Q_Z_SUBTRACTED = [[125, 66, 127], [96, 127, 17], [70, 127, 127]]
DQ_L2A = [[192.5, -14.0, 689.5], [91.0, 294.0, -185.5], [0.0, 686.0, 245.0]]
DQ_NO_FLOAT_CAST = [[192.5, -14.0, -206.5], [91.0, 294.0, -185.5], [0.0, -210.0, 245.0]]


@pytest.fixture
def one_thread():
    """Many tiny ops: one intra-op thread avoids OpenMP workers spinning on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _oracle() -> None:
    """Load the §6 oracle (it registers torch.ops.quantized_decomposed), or skip saying why; in CI
    (tests/ci.py) fail instead: the oracle is the independent evidence, and a skip would go unnoticed."""
    try:
        importlib.import_module(ORACLE)
    except ImportError as error:
        if in_ci():
            pytest.fail(f"the torch oracle (docs/course.md §6) must run in CI, but {ORACLE} cannot be imported: "
                        f"{error!r}", pytrace=False)
        pytest.skip(f"{ORACLE} cannot be imported: {error!r}")


def codes(values, dtype=INT8) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


def numbers_in(message: str) -> set[float]:
    return {float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", message)}


class SubTensor(torch.Tensor):
    pass


def test_check_failed_is_an_assertion_error():
    assert issubclass(CheckFailed, AssertionError)


# expect_tensor -------------------------------------------------------------------------------------

class TestExpectTensor:
    def test_accepts_and_returns_the_same_object(self):
        t = codes(Q_L2A)
        assert checks.expect_tensor(t, what="q", dtype=INT8, shape=(3, 3)) is t
        assert checks.expect_tensor(t, what="q", dtype=INT8, shape=torch.Size([3, 3])) is t
        assert checks.expect_tensor(t, what="q", dtype=INT8, shape=[3, 3]) is t
        assert checks.expect_tensor(torch.tensor(2.5), what="e", dtype=torch.float32, shape=()) is not None

    def test_numpy_array_refused_with_hint(self):
        with pytest.raises(CheckFailed, match=r"numpy\.ndarray.*torch\.round"):
            checks.expect_tensor(np.array(Q_L2A, dtype=np.int8), what="q", dtype=INT8, shape=(3, 3))

    @pytest.mark.parametrize(
        "make",
        [
            lambda: torch.nn.Parameter(torch.zeros(3, 3), requires_grad=False),
            lambda: torch.zeros(3, 3).as_subclass(SubTensor),
        ],
        ids=["parameter", "subclass"],
    )
    def test_tensor_subclass_refused(self, make):
        with pytest.raises(CheckFailed, match="not a subclass"):
            checks.expect_tensor(make(), what="dq", dtype=torch.float32, shape=(3, 3))

    def test_list_and_none_refused(self):
        with pytest.raises(CheckFailed, match="is a list"):
            checks.expect_tensor(Q_L2A, what="q", dtype=INT8, shape=(3, 3))
        with pytest.raises(CheckFailed, match="return"):
            checks.expect_tensor(None, what="q", dtype=INT8, shape=(3, 3))
        with pytest.raises(CheckFailed):
            checks.expect_tensor((1, 2), what="q", dtype=INT8, shape=(2,))

    @pytest.mark.parametrize("dtype", [torch.int16, torch.int32, torch.int64, torch.uint8, torch.float32])
    def test_dtype_strict_for_codes(self, dtype):
        with pytest.raises(CheckFailed, match=r"dtype.*\.to\(dtype\)"):
            checks.expect_tensor(codes(Q_L2A).to(dtype), what="q", dtype=INT8, shape=(3, 3))

    @pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
    def test_dtype_strict_for_floats(self, dtype):
        with pytest.raises(CheckFailed, match="dtype"):
            checks.expect_tensor(torch.tensor(DQ_L2A, dtype=dtype), what="dq", dtype=torch.float32, shape=(3, 3))

    @pytest.mark.parametrize(
        "got_shape, want_shape",
        [((3, 1), (3, 3)), ((1, 3), (3, 3)), ((3,), (1, 3)), ((1, 3), (3,)), ((), (1,)), ((1,), ()),
         ((3, 3, 1), (3, 3))],
    )
    def test_shapes_that_only_broadcast_are_refused(self, got_shape, want_shape):
        with pytest.raises(CheckFailed, match="only broadcasts"):
            checks.expect_tensor(torch.zeros(got_shape), what="scale", dtype=torch.float32, shape=want_shape)

    @pytest.mark.parametrize("bad", [NAN, INF, -INF])
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
    def test_nan_inf_never_pass(self, bad, dtype):
        t = torch.tensor(DQ_L2A, dtype=dtype)
        t[1, 2] = bad
        with pytest.raises(CheckFailed, match="1 NaN or infinite"):
            checks.expect_tensor(t, what="dq", dtype=dtype, shape=(3, 3))

    def test_nan_in_complex(self):
        with pytest.raises(CheckFailed, match="NaN"):
            checks.expect_tensor(torch.tensor([complex(NAN, 0)]), what="x", dtype=torch.complex64, shape=(1,))


# expect_tuple ---------------------------------------------------------------------------------------

class TestExpectTuple:
    def test_right(self):
        q, s, z = ref.linear_quantization(fixtures.T())
        out = (q, s, z)
        assert checks.expect_tuple(out, 3, what="q, scale, zero point") is out

    def test_list_refused(self):
        q, s, z = ref.linear_quantization(fixtures.T())
        with pytest.raises(CheckFailed, match="tuple.*returned a list"):
            checks.expect_tuple([q, s, z], 3, what="q, scale, zero point")

    def test_wrong_length_and_non_tuples(self):
        q, s = ref.linear_q_symmetric(fixtures.T())
        with pytest.raises(CheckFailed, match="return 3 values.*returned 2"):
            checks.expect_tuple((q, s), 3, what="q, scale, zero point")
        with pytest.raises(CheckFailed, match="returned a torch.Tensor"):
            checks.expect_tuple(q, 2, what="q, scale")
        with pytest.raises(CheckFailed, match="NoneType"):
            checks.expect_tuple(None, 2, what="q, scale")


# expect_float / expect_int --------------------------------------------------------------------------

class TestExpectFloat:
    def test_right_values(self):
        assert checks.expect_float(3.578823433670343, 3.578823433670343, what="scale") == 3.578823433670343
        s, _ = ref.get_q_scale_and_zero_point(fixtures.T())
        checks.expect_float(s, 3.578823433670343, what="scale")
        # a float32 round trip of the scale is within rtol 1e-6
        checks.expect_float(float(torch.tensor(s).item()), 3.578823433670343, what="scale")

    def test_wrong_values(self):
        # §5 scale_inverted, sym_scale_128, sym_scale_127_5
        for wrong, right in [
            (0.27942144074272685, 3.578823433670343),
            (5.692187309265137, 5.737007681779035),
            (5.714509612438725, 5.737007681779035),
        ]:
            with pytest.raises(CheckFailed, match="expected"):
                checks.expect_float(wrong, right, what="scale")

    def test_rtol_boundary(self):
        checks.expect_float(1.0 + 0.9e-6, 1.0, what="scale")
        with pytest.raises(CheckFailed):
            checks.expect_float(1.0 + 1.1e-6, 1.0, what="scale")
        checks.expect_float(0.0, 0.0, what="scale")
        with pytest.raises(CheckFailed):
            checks.expect_float(1e-30, 0.0, what="scale")  # atol 0

    @pytest.mark.parametrize(
        "got, pattern",
        [
            (torch.tensor(3.578823433670343, dtype=torch.float64), r"torch\.Tensor.*\.item\(\)"),
            (torch.tensor([3.578823433670343]), r"\.item\(\)"),
            (np.float64(3.578823433670343), "numpy.float64"),
            (4, "is a int"),
            (True, "is a bool"),
            ("3.578823433670343", "is a str"),
            (None, "NoneType"),
        ],
        ids=["0-d tensor", "1-element tensor", "numpy float64", "int", "bool", "str", "None"],
    )
    def test_type_strict(self, got, pattern):
        with pytest.raises(CheckFailed, match=pattern):
            checks.expect_float(got, 3.578823433670343, what="scale")

    @pytest.mark.parametrize("got", [NAN, INF, -INF])
    def test_non_finite_got(self, got):
        with pytest.raises(CheckFailed, match="finite"):
            checks.expect_float(got, 3.5, what="scale")

    @pytest.mark.parametrize("want", [NAN, INF, -INF])
    def test_non_finite_want_never_passes(self, want):
        with pytest.raises(CheckFailed):
            checks.expect_float(3.5, want, what="scale")

    def test_hidden(self):
        with pytest.raises(CheckFailed) as info:
            checks.expect_float(3.0, 3.578823433670343, what="scale", reveal=False)
        assert "3.578" not in str(info.value) and "expected" not in str(info.value)
        assert "3.0" in str(info.value)


class TestExpectInt:
    def test_right(self):
        _, z = ref.get_q_scale_and_zero_point(fixtures.T())
        assert checks.expect_int(z, -77, what="zero point") == -77
        _, z = ref.get_q_scale_and_zero_point(fixtures.N(), UINT8)
        checks.expect_int(z, 255, what="zero point")

    def test_wrong_values(self):
        # §5 zero_point_truncated (-76), zero_point_not_clipped (212), zero_point_clip_to_qmin (-128)
        for wrong, right in [(-76, -77), (212, 127), (-128, 127), (-77, 51)]:
            with pytest.raises(CheckFailed, match=f"is {wrong}, expected {right}"):
                checks.expect_int(wrong, right, what="zero point")

    @pytest.mark.parametrize(
        "got, pattern",
        [
            (-77.0, r"int\(round\(z\)\)"),
            (-76.58645490333825, r"int\(round\(z\)\)"),
            (torch.tensor(-77), r"\.item\(\)"),
            (np.int64(-77), "numpy.int64"),
            (True, "is a bool"),
            (None, "NoneType"),
        ],
        ids=["integral float", "raw float", "0-d tensor", "numpy int64", "bool", "None"],
    )
    def test_type_strict(self, got, pattern):
        with pytest.raises(CheckFailed, match=pattern):
            checks.expect_int(got, -77, what="zero point")

    def test_bool_is_not_one(self):
        with pytest.raises(CheckFailed):
            checks.expect_int(True, 1, what="zero point")
        with pytest.raises(CheckFailed):
            checks.expect_int(False, 0, what="zero point")

    def test_hidden(self):
        with pytest.raises(CheckFailed) as info:
            checks.expect_int(-76, -77, what="zero point", reveal=False)
        assert "-77" not in str(info.value) and "-76" in str(info.value)


# expect_codes ---------------------------------------------------------------------------------------

def _exact(r, s, z):
    return r.double() / s + z


class TestExpectCodes:
    def test_course_fixture_right(self):
        got = ref.linear_q_with_scale_and_zero_point(fixtures.T(), 3.5, -70)
        assert checks.expect_codes(got, codes(Q_L2A), scale=3.5, zero_point=-70) is got
        checks.expect_codes(got, codes(Q_L2A), exact=_exact(fixtures.T(), 3.5, -70))

    @pytest.mark.parametrize("wrong", [Q_TRUNCATE, Q_Z_SUBTRACTED], ids=["truncate", "zero point subtracted"])
    def test_course_fixture_wrong(self, wrong):
        with pytest.raises(CheckFailed, match="codes in the quantized tensor differ"):
            checks.expect_codes(codes(wrong), codes(Q_L2A), exact=_exact(fixtures.T(), 3.5, -70))

    def test_missing_clamp_and_wrong_dtypes(self):
        unclamped = codes(Q_L2A)
        unclamped[0, 2] = -118  # §5 missing_clamp: 247 wraps to -118
        with pytest.raises(CheckFailed, match=r"at \[0, 2\]: yours -118, expected 127"):
            checks.expect_codes(unclamped, codes(Q_L2A))
        for dtype in (torch.int16, torch.int32, torch.int64, torch.float32, UINT8):
            with pytest.raises(CheckFailed, match="dtype"):
                checks.expect_codes(codes(Q_L2A, INT16).to(dtype), codes(Q_L2A))

    def test_types_and_shapes_refused(self):
        with pytest.raises(CheckFailed, match="numpy"):
            checks.expect_codes(np.array(Q_L2A, dtype=np.int8), codes(Q_L2A))
        with pytest.raises(CheckFailed, match="list"):
            checks.expect_codes(Q_L2A, codes(Q_L2A))
        with pytest.raises(CheckFailed, match="forget a `return`"):
            checks.expect_codes(None, codes(Q_L2A))
        with pytest.raises(CheckFailed, match="only broadcasts"):
            checks.expect_codes(codes([[5], [5]]), codes([[5, 5], [5, 5]]))
        with pytest.raises(CheckFailed, match="only broadcasts"):
            checks.expect_codes(codes(Q_L2A).reshape(1, 3, 3), codes(Q_L2A))

    def test_uint8_differences_do_not_wrap(self):
        with checks.collect_metrics() as metrics, pytest.raises(CheckFailed):
            checks.expect_codes(codes([0, 5], UINT8), codes([255, 5], UINT8), scale=1.0)
        assert metrics["max_code_difference"] == 255
        assert metrics["dequantized_mse"] == 255**2 / 2

    # ±1 next to ties (§7)

    def test_plus_minus_one_only_near_ties(self):
        want = codes([3, 4, -3, 10])
        exact = torch.tensor([3.4996, 3.5004, -3.4992, 10.2], dtype=torch.float64)
        checks.expect_codes(codes([4, 4, -3, 10]), want, exact=exact)  # +1 near the tie
        checks.expect_codes(codes([3, 3, -3, 10]), want, exact=exact)  # -1 near the tie
        checks.expect_codes(codes([4, 3, -4, 10]), want, exact=exact)  # all three at once
        with pytest.raises(CheckFailed, match="1 of 4"):
            checks.expect_codes(codes([3, 4, -3, 11]), want, exact=exact)  # +1 far from a tie

    def test_window_is_1e_3(self):
        want = codes([3, 3])
        checks.expect_codes(codes([4, 3]), want, exact=torch.tensor([3.5 - 0.99e-3, 3.0], dtype=torch.float64))
        with pytest.raises(CheckFailed):
            checks.expect_codes(codes([4, 3]), want, exact=torch.tensor([3.5 - 1.01e-3, 3.0], dtype=torch.float64))
        assert checks.TIE_WINDOW == 1e-3

    def test_never_plus_minus_two(self):
        want = codes([3, -3])
        exact = torch.tensor([3.5, -3.5], dtype=torch.float64)
        for got in ([5, -3], [1, -3], [3, -5], [3, -1]):
            with pytest.raises(CheckFailed, match="1 of 2"):
                checks.expect_codes(codes(got), want, exact=exact)

    def test_without_exact_ties_are_strict(self):
        # §5 round_half_away on exact ties: only caught when no allowance is passed.
        r = torch.tensor([0.25, 0.75, 1.25, -0.25, -0.75])
        want = ref.linear_q_with_scale_and_zero_point(r, 0.5, 0)
        assert want.tolist() == [0, 2, 2, 0, -2]
        half_away = codes([1, 2, 3, -1, -2])
        with pytest.raises(CheckFailed, match="3 of 5"):
            checks.expect_codes(half_away, want)
        # with `exact`, every element is a tie, so the allowance takes them (documented in §7)
        checks.expect_codes(half_away, want, exact=_exact(r, 0.5, 0))
        # round_before_zero_point with z=1: also exact ties
        want = ref.linear_q_with_scale_and_zero_point(r, 0.5, 1)
        with pytest.raises(CheckFailed):
            checks.expect_codes(codes([1, 3, 3, 1, -1]), want)

    def test_near_tie(self):
        x = torch.tensor([0.5, 1.4995, 2.5011, -0.5, -1.5009, 3.0, 3.2, -7.49905], dtype=torch.float64)
        assert checks.near_tie(x).tolist() == [True, True, False, True, True, False, False, True]
        assert checks.near_tie(torch.tensor([NAN], dtype=torch.float64)).tolist() == [False]
        assert checks.near_tie(torch.tensor([3.45]), window=0.06).tolist() == [True]

    def test_random_data_oracle_accepted_floor_rejected(self):
        g = torch.Generator().manual_seed(3)
        r = torch.randn(64, 64, generator=g) * 2
        s, z = ref.get_q_scale_and_zero_point(r)
        want = ref.linear_q_with_scale_and_zero_point(r, s, z)
        exact = _exact(r, s, z)
        # float64 arithmetic (a valid variant) passes with the allowance
        float64 = torch.round(r.double() / s + z).clamp(-128, 127).to(INT8)
        checks.expect_codes(float64, want, exact=exact, scale=s, zero_point=z)
        # half away from zero passes on random data (no exact ties)
        half_away = torch.floor(r.float() / s + z + 0.5).clamp(-128, 127).to(INT8)
        checks.expect_codes(half_away, want, exact=exact)
        for wrong in (
            torch.floor(r / s + z).clamp(-128, 127).to(INT8),
            (r / s + z).clamp(-128, 127).to(INT8),  # truncating cast
            torch.round(r / s - z).clamp(-128, 127).to(INT8),  # zero point subtracted
        ):
            with pytest.raises(CheckFailed):
                checks.expect_codes(wrong, want, exact=exact)
        # half the scale: a quarter of the values leave the range, and the missing clamp wraps
        want = ref.linear_q_with_scale_and_zero_point(r, s / 2, z)
        with pytest.raises(CheckFailed):
            checks.expect_codes(torch.round(r / (s / 2) + z).to(INT8), want, exact=_exact(r, s / 2, z))

    def test_random_data_against_quantize_per_tensor(self, one_thread):
        _oracle()
        g = torch.Generator().manual_seed(4)
        for i in range(50):
            r = torch.randn(48, 48, generator=g) * (i + 1)
            for dtype, qdtype in ((INT8, torch.qint8), (UINT8, torch.quint8)):
                s, z = ref.get_q_scale_and_zero_point(r, dtype)
                want = ref.linear_q_with_scale_and_zero_point(r, s, z, dtype)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    got = torch.quantize_per_tensor(r, s, z, qdtype).int_repr()
                checks.expect_codes(got, want, exact=_exact(r, s, z), scale=s, zero_point=z)

    # messages

    def test_message_lists_positions_and_small_tensors(self):
        with pytest.raises(CheckFailed) as info:
            checks.expect_codes(codes(Q_TRUNCATE), codes(Q_L2A), hint="Round with torch.round.")
        message = str(info.value)
        assert message.startswith("4 of 9 codes")
        assert "at [0, 1]: yours -73, expected -74" in message
        assert "Yours:" in message and "Expected:" in message
        assert message.count("at [") == 3  # at most three positions are listed
        assert message.endswith("Hint: Round with torch.round.")

    def test_large_tensors_are_not_printed_in_full(self):
        want = torch.zeros(10, 10, dtype=INT8)
        with pytest.raises(CheckFailed) as info:
            checks.expect_codes(want + 1, want)
        assert "Yours:" not in str(info.value) and "100 of 100" in str(info.value)

    def test_hidden_mode_reveals_no_expected_value(self):
        want = torch.arange(101, 110, dtype=INT8).reshape(3, 3)
        got = want - 50
        with pytest.raises(CheckFailed) as info:
            checks.expect_codes(got, want, reveal=False, scale=0.5, zero_point=3)
        message = str(info.value)
        assert ", expected" not in message and "Expected:" not in message
        assert not numbers_in(message) & {float(v) for v in want.flatten().tolist()}
        assert "yours 51" in message

    # metrics

    def test_metrics(self):
        want = codes(Q_L2A)
        with checks.collect_metrics() as metrics:
            checks.expect_codes(want.clone(), want, scale=3.5, zero_point=-70)
        assert metrics == {"mismatched_codes": 0, "max_code_difference": 0, "dequantized_mse": 0.0}

        got = codes(Q_TRUNCATE)
        with checks.collect_metrics() as metrics, pytest.raises(CheckFailed):
            checks.expect_codes(got, want, scale=3.5, zero_point=-70)
        assert metrics["mismatched_codes"] == 4
        assert metrics["max_code_difference"] == 1
        assert metrics["dequantized_mse"] == pytest.approx(3.5**2 * 4 / 9, rel=1e-12)

        # allowed ±1 differences are still counted
        with checks.collect_metrics() as metrics:
            checks.expect_codes(codes([4, 3]), codes([3, 3]), exact=torch.tensor([3.5, 3.0], dtype=torch.float64))
        assert metrics["mismatched_codes"] == 1 and "dequantized_mse" not in metrics

    def test_metrics_with_per_channel_scale(self):
        scale = torch.tensor([[2.0], [4.0]])
        with checks.collect_metrics() as metrics, pytest.raises(CheckFailed):
            checks.expect_codes(codes([[1, 0], [0, 3]]), codes([[0, 0], [0, 0]]), scale=scale)
        assert metrics["dequantized_mse"] == pytest.approx((2.0**2 + (4.0 * 3) ** 2) / 4)


# expect_close ---------------------------------------------------------------------------------------

class TestExpectClose:
    def test_course_dequantization_right(self):
        dq = ref.linear_dequantization(codes(Q_L2A), 3.5, -70)
        want = torch.tensor(DQ_L2A)
        assert checks.expect_close(dq, want, what="dequantized tensor") is dq

    @pytest.mark.parametrize(
        "wrong",
        [
            DQ_NO_FLOAT_CAST,  # dequant_no_float_cast
            [[-297.5, -14.0, 689.5], [91.0, 294.0, -185.5], [0.0, 686.0, 245.0]],  # dequant_sign at [0,0]
        ],
    )
    def test_course_dequantization_wrong(self, wrong):
        with pytest.raises(CheckFailed, match="values in the dequantized tensor are off"):
            checks.expect_close(torch.tensor(wrong), torch.tensor(DQ_L2A), what="dequantized tensor")

    def test_mse_values(self):
        # 170.87530517578125 is right; §5 error_metric_mae / sum / rmse are wrong at rtol 1e-3
        want = torch.tensor(170.87530517578125)
        checks.expect_close(torch.tensor(170.9), want, what="error", rtol=1e-3)
        for wrong in (5.171110153198242, 1537.877685546875, 13.071928024291992):
            with pytest.raises(CheckFailed):
                checks.expect_close(torch.tensor(wrong), want, what="error", rtol=1e-3)
        with pytest.raises(CheckFailed, match="float32"):
            checks.expect_close(torch.tensor(170.87530517578125, dtype=torch.float64), want, what="error")
        with pytest.raises(CheckFailed, match="Python float|torch.Tensor"):
            checks.expect_close(170.87530517578125, want, what="error")
        with pytest.raises(CheckFailed, match="only broadcasts"):
            checks.expect_close(torch.tensor([170.87530517578125]), want, what="error")

    def test_rtol_and_atol(self):
        want = torch.tensor([100.0, 0.0])
        checks.expect_close(torch.tensor([100.00009, 0.0]), want, what="x", rtol=1e-6)
        with pytest.raises(CheckFailed):
            checks.expect_close(torch.tensor([100.0002, 0.0]), want, what="x", rtol=1e-6)
        with pytest.raises(CheckFailed):
            checks.expect_close(torch.tensor([100.0, 1e-7]), want, what="x")
        checks.expect_close(torch.tensor([100.0, 1e-7]), want, what="x", atol=1e-6)

    @pytest.mark.parametrize("bad", [NAN, INF, -INF])
    def test_nan_inf_never_pass_even_where_expected(self, bad):
        want = torch.tensor([1.0, bad, 3.0])
        # equal_nan-style agreement is not accepted
        with pytest.raises(CheckFailed, match="NaN or infinite"):
            checks.expect_close(torch.tensor([1.0, bad, 3.0]), want, what="x")
        # and a non-finite expected value never passes either
        with pytest.raises(CheckFailed):
            checks.expect_close(torch.tensor([1.0, 2.0, 3.0]), want, what="x")
        with pytest.raises(CheckFailed):
            checks.expect_close(torch.tensor([1.0, 2.0, 3.0]), want, what="x", atol=1e30, rtol=1.0)

    def test_hidden_mode_reveals_no_expected_value(self):
        want = torch.tensor([[1234.5, 2345.25], [3456.75, 4567.125]])
        got = torch.tensor([[1.5, 2.25], [3.75, 4.125]])
        with pytest.raises(CheckFailed) as info:
            checks.expect_close(got, want, what="dq", reveal=False, hint="Cast to float first.")
        message = str(info.value)
        assert "xpected" not in message
        assert not numbers_in(message) & {float(v) for v in want.flatten().tolist()}
        assert "yours 1.5" in message and message.endswith("Hint: Cast to float first.")

    def test_metrics(self):
        with checks.collect_metrics() as metrics, pytest.raises(CheckFailed):
            checks.expect_close(torch.tensor(DQ_NO_FLOAT_CAST), torch.tensor(DQ_L2A), what="dq")
        assert metrics["max_abs_error"] == 896.0
        assert metrics["mse"] == pytest.approx((896.0**2 + 896.0**2) / 9)
        with checks.collect_metrics() as metrics:
            checks.expect_close(torch.tensor(DQ_L2A), torch.tensor(DQ_L2A), what="dq")
        assert metrics == {"max_abs_error": 0.0, "mse": 0.0}


# metrics --------------------------------------------------------------------------------------------

class TestMetrics:
    def test_outside_a_collection_nothing_is_kept(self):
        checks.record_metrics(x=1.0)  # no error, no sink
        with checks.collect_metrics() as metrics:
            pass
        assert metrics == {}

    def test_values_are_numbers_and_non_finite_are_dropped(self):
        with checks.collect_metrics() as metrics:
            checks.record_metrics(a=1, b=2.5, c=float("nan"), d=float("inf"), e=None, f=torch.tensor(3.0))
        assert metrics == {"a": 1, "b": 2.5, "f": 3.0}
        assert type(metrics["f"]) is float  # a 0-d tensor is turned into a Python number

    def test_nested_collections_are_separate(self):
        with checks.collect_metrics() as outer:
            checks.record_metrics(a=1.0)
            with checks.collect_metrics() as inner:
                checks.record_metrics(b=2.0)
            checks.record_metrics(c=3.0)
        assert outer == {"a": 1.0, "c": 3.0} and inner == {"b": 2.0}

    def test_scalar_checks_record_errors(self):
        with checks.collect_metrics() as metrics, pytest.raises(CheckFailed):
            checks.expect_float(0.27942144074272685, 3.578823433670343, what="scale")
        assert metrics == {
            "scale_rel_error": pytest.approx((3.578823433670343 - 0.27942144074272685) / 3.578823433670343),
        }
        with checks.collect_metrics() as metrics, pytest.raises(CheckFailed):
            checks.expect_int(-76, -77, what="zero point")
        assert metrics == {"zero_point_error": 1}

    def test_type_failures_record_nothing(self):
        with checks.collect_metrics() as metrics, pytest.raises(CheckFailed):
            checks.expect_codes(np.zeros(3, dtype=np.int8), codes([0, 0, 0]), scale=1.0)
        assert metrics == {}


# expect_raises --------------------------------------------------------------------------------------

class TestExpectRaises:
    def test_expected_exception_is_swallowed(self):
        with checks.expect_raises(ValueError, what="constant tensor"):
            ref.get_q_scale_and_zero_point(torch.full((2, 2), 3.0))
        with checks.expect_raises(ValueError, AssertionError, what="group size"):
            assert 5 % 2 == 0, "course-style bare assert"

    def test_subclass_is_accepted(self):
        class MyError(ValueError):
            pass

        with checks.expect_raises(ValueError, what="x"):
            raise MyError("sub")

    def test_nothing_raised(self):
        with pytest.raises(CheckFailed, match="constant tensor: expected ValueError, but nothing was raised"):
            with checks.expect_raises(ValueError, what="constant tensor"):
                ref.get_q_scale_symmetric(torch.full((2, 2), 3.0))  # symmetric is fine

    def test_other_exception_is_reported(self):
        # the course's own code: ZeroDivisionError on a constant tensor (§8)
        with pytest.raises(CheckFailed,
                           match="expected ValueError or AssertionError, but got ZeroDivisionError: float division"):
            with checks.expect_raises(ValueError, AssertionError, what="constant tensor"):
                r_min = r_max = 3.0
                scale = (r_max - r_min) / 255
                -128 - r_min / scale

    def test_base_exceptions_pass_through(self):
        with pytest.raises(KeyboardInterrupt):
            with checks.expect_raises(ValueError, what="x"):
                raise KeyboardInterrupt


# expect_scales, expect_bytes, expect_output (labs L3-C .. L5-C) ----------------------------------------

T_ROW_SCALES = [[5.7370076179504395], [2.3267717361450195], [5.3905510902404785]]


class TestExpectScales:
    def test_reference_scales_pass_and_record_their_error(self):
        _, s = ref.linear_q_symmetric_per_channel(fixtures.T(), 0)
        with checks.collect_metrics() as metrics:
            checks.expect_scales(s, torch.tensor(T_ROW_SCALES), what="scale", layout="one per row")
        assert metrics == {"scale_rel_error": 0.0}

    def test_float64_division_rounding_is_within_tolerance(self):
        # amax / 127 in float32 or in float64: at most one float32 step apart (rtol 1e-6)
        r = torch.randn(64, 64, generator=torch.Generator().manual_seed(1))
        _, want = ref.linear_q_symmetric_per_channel(r, 1)
        got = r.abs().amax(dim=0, keepdim=True) / 127
        checks.expect_scales(got, want, what="scale", layout="one per column")

    def test_flat_scale_gets_the_broadcasting_explanation(self):
        # §5 per_channel_missing_reshape: the right values in shape [3]
        flat = torch.tensor(T_ROW_SCALES).flatten()
        with pytest.raises(CheckFailed) as failure:
            checks.expect_scales(flat, torch.tensor(T_ROW_SCALES), what="scale of T",
                                 layout="one scale per row, shape [rows, 1]")
        message = str(failure.value)
        assert "shape [3], but it should be [3, 1]: one scale per row" in message
        assert "broadcasts against the wrong dimension" in message and "scale.view(3, 1)" in message

    def test_per_column_scale_for_dim_0_is_named_by_its_shape(self):
        # §5 per_channel_wrong_dim: amax(dim=0) gives [1, 3]
        _, s = ref.linear_q_symmetric_per_channel(fixtures.T(), 1)
        with pytest.raises(CheckFailed, match=r"shape \[1, 3\], but it should be \[3, 1\]"):
            checks.expect_scales(s, torch.tensor(T_ROW_SCALES), what="scale", layout="one per row")

    def test_wrong_count_dtype_and_values(self):
        want = torch.tensor(T_ROW_SCALES)
        with pytest.raises(CheckFailed, match="should hold 3 scales, one for each slice, but it holds 2"):
            checks.expect_scales(torch.ones(2, 1), want, what="scale", layout="one per row")
        with pytest.raises(CheckFailed, match="dtype torch.float64"):
            checks.expect_scales(want.double(), want, what="scale", layout="one per row")
        with pytest.raises(CheckFailed, match="1 of 3 values in the scale are off"):
            checks.expect_scales(want * torch.tensor([[1.0], [1.0], [128 / 127]]), want, what="scale", layout="x")
        with pytest.raises(CheckFailed, match="NaN"):
            checks.expect_scales(want * float("nan"), want, what="scale", layout="x")


class TestExpectBytes:
    def test_exact_bytes_pass(self):
        with checks.collect_metrics() as metrics:
            checks.expect_bytes(ref.pack_weights(codes([1, 0, 3, 2], UINT8), 2), codes([177], UINT8), what="packed")
        assert metrics == {"mismatched_codes": 0}

    def test_msb_first_is_shown_in_binary(self):
        # §5 pack_msb_first: 78 instead of 177
        with pytest.raises(CheckFailed) as failure:
            checks.expect_bytes(codes([78], UINT8), codes([177], UINT8), what="packed tensor")
        assert "yours 78 (0b01001110), expected 177 (0b10110001)" in str(failure.value)

    def test_hidden_bytes_are_not_revealed(self):
        with pytest.raises(CheckFailed) as failure:
            checks.expect_bytes(codes([177, 44], UINT8), codes([1, 0], UINT8), what="unpacked", reveal=False)
        assert "177 (0b10110001)" in str(failure.value) and "expected" not in str(failure.value)

    def test_dtype_and_shape(self):
        with pytest.raises(CheckFailed, match="torch.int64"):
            checks.expect_bytes(torch.tensor([177]), codes([177], UINT8), what="packed")
        with pytest.raises(CheckFailed, match="shape"):
            checks.expect_bytes(codes([177, 0], UINT8), codes([177], UINT8), what="packed")


class TestExpectOutput:
    W_CODES = [[-118, -67, 25], [-89, 15, 96], [14, 80, 127]]

    def _truth(self, x, q, s, z):
        return x.double() @ (s * (q.double() - z)).T

    def test_reference_and_rescaled_matmul_pass(self):
        g = torch.Generator().manual_seed(2)
        w = torch.randn(64, 256, generator=g)
        q, s, z = ref.linear_quantization(w)
        x = torch.randn(8, 256, generator=g)
        want = self._truth(x, q, s, z)
        checks.expect_output(ref.quantized_linear_W8A32_without_bias(x, q, s, z), want, what="output", tol=1e-5)
        checks.expect_output((x @ (q.float() - z).T) * s, want, what="output", tol=1e-5)

    def test_course_line_with_a_zero_point_fails(self):
        # §3.3: q*s + z is wrong as soon as z != 0
        q, s, z = ref.linear_quantization(fixtures.W())
        x = torch.tensor([1.0, 2.0, 3.0])
        with (checks.collect_metrics() as metrics,
              pytest.raises(CheckFailed, match="3 of 3 values in the output are off")):
            checks.expect_output(torch.nn.functional.linear(x, q.float() * s + z), self._truth(x, q, s, z),
                                 what="output", tol=1e-5)
        assert metrics["relative_error"] > 1

    def test_missing_scale_and_transposed_weight_fail(self):
        q, s = codes(self.W_CODES), 0.016929134609192376
        x = torch.tensor([1.0, 2.0, 3.0])
        want = self._truth(x, q, s, 0)
        for wrong in (torch.nn.functional.linear(x, q.float()), torch.nn.functional.linear(x, (s * q.float()).T)):
            with pytest.raises(CheckFailed):
                checks.expect_output(wrong, want, what="output", tol=1e-5)

    def test_dtype_is_checked(self):
        q, s = codes(self.W_CODES), 0.016929134609192376
        x = torch.tensor([1.0, 2.0, 3.0])
        with pytest.raises(CheckFailed, match="torch.float64"):
            checks.expect_output(self._truth(x, q, s, 0), self._truth(x, q, s, 0), what="output", tol=1e-5)


def test_public_api():
    assert set(checks.__all__) >= {
        "CheckFailed", "collect_metrics", "record_metrics", "expect_tensor", "expect_codes", "expect_close",
        "expect_float", "expect_int", "expect_tuple", "expect_raises", "near_tie", "TIE_WINDOW",
        "expect_scales", "expect_bytes", "expect_output",
    }
    assert collections.Counter(checks.__all__).most_common(1)[0][1] == 1


def test_near_tie_allowance_only_accepts_the_two_neighbours_of_the_tie():
    from quantlab.checks import CheckFailed, expect_codes

    exact = torch.tensor([3.5000001, 126.5004, 200.5], dtype=torch.float64)
    want = torch.tensor([4, 127, 127], dtype=torch.int8)
    expect_codes(torch.tensor([3, 126, 127], dtype=torch.int8), want, exact=exact)
    with pytest.raises(CheckFailed):  # one step, but away from the tie
        expect_codes(torch.tensor([5, 127, 127], dtype=torch.int8), want, exact=exact)
    with pytest.raises(CheckFailed):  # 200.5 clamps to 127 whichever way it rounds
        expect_codes(torch.tensor([4, 127, 126], dtype=torch.int8), want, exact=exact)
