"""Known mistakes of the core labs (LABS.md §5), as code, with what to tell the student.

Each mistake is notebook source for the wrong function(s), laid over the course-literal
implementation (`COURSE_LITERAL`) and executed into one namespace, so a wrong helper also makes
the functions that call it wrong, as it would in a notebook. `affects` names, by lab, the
questions whose tests must catch it. Several ids have variants, named `id/variant`.

Two users: the project's tests check that every mistake fails the questions it affects, and
`grader.diagnose` recognises a student's failing function by running it on `PROBES` and
comparing with `model(mistake)`: a match earns the student the matching `EXPLANATIONS` entry.

Instructor-only (it ships with the autograder, never to students).
"""

from __future__ import annotations

import functools
import textwrap

__all__ = [
    "QUESTIONS",
    "FUNCTIONS",
    "COURSE_LITERAL",
    "MISTAKES",
    "MISTAKE_IDS",
    "EXPLANATIONS",
    "source",
    "model",
    "explain",
    "probes",
    "probe_inspection",
]

#: The graded questions (= graded functions = test file names) of each lab.
QUESTIONS = {
    "L2-A": ("linear_q_with_scale_and_zero_point", "linear_dequantization"),
    "L2-B": ("get_q_scale_and_zero_point", "linear_quantization"),
    "L3-A": ("get_q_scale_symmetric", "linear_q_symmetric"),
    "L3-B": ("linear_q_symmetric", "quantization_error"),
}

#: The functions every implementation defines.
FUNCTIONS = (
    "linear_q_with_scale_and_zero_point",
    "linear_dequantization",
    "get_q_scale_and_zero_point",
    "linear_quantization",
    "get_q_scale_symmetric",
    "linear_q_symmetric",
    "quantization_error",
)


def _src(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


# Correct implementations ---------------------------------------------------------------------------

#: The course notebooks' code, with the project decisions of LABS.md §3 (z clipped as in the L2-B
#: notebook, dtype forwarded).
COURSE_LITERAL = _src(
    """
    import torch

    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        scaled_and_shifted_tensor = tensor / scale + zero_point
        rounded_tensor = torch.round(scaled_and_shifted_tensor)
        q_min = torch.iinfo(dtype).min
        q_max = torch.iinfo(dtype).max
        q_tensor = rounded_tensor.clamp(q_min, q_max).to(dtype)
        return q_tensor

    def linear_dequantization(quantized_tensor, scale, zero_point):
        return scale * (quantized_tensor.float() - zero_point)

    def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
        q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
        r_min, r_max = tensor.min().item(), tensor.max().item()
        scale = (r_max - r_min) / (q_max - q_min)
        zero_point = q_min - (r_min / scale)
        if zero_point < q_min:
            zero_point = q_min
        elif zero_point > q_max:
            zero_point = q_max
        else:
            zero_point = int(round(zero_point))
        return scale, zero_point

    def linear_quantization(tensor, dtype=torch.int8):
        scale, zero_point = get_q_scale_and_zero_point(tensor, dtype=dtype)
        quantized_tensor = linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=dtype)
        return quantized_tensor, scale, zero_point

    def get_q_scale_symmetric(tensor, dtype=torch.int8):
        r_max = tensor.abs().max().item()
        q_max = torch.iinfo(dtype).max
        return r_max / q_max

    def linear_q_symmetric(tensor, dtype=torch.int8):
        scale = get_q_scale_symmetric(tensor, dtype=dtype)
        quantized_tensor = linear_q_with_scale_and_zero_point(tensor, scale=scale, zero_point=0, dtype=dtype)
        return quantized_tensor, scale

    def quantization_error(tensor, dequantized_tensor):
        return (dequantized_tensor - tensor).abs().square().mean()
    """
)

#: One-liners; the asymmetric parameters are computed with float32 tensor arithmetic.
# Mistakes (LABS.md §5) --------------------------------------------------------------------------

_LQ = "linear_q_with_scale_and_zero_point"
_DQ = "linear_dequantization"
_GSZ = "get_q_scale_and_zero_point"
_LQA = "linear_quantization"
_GSS = "get_q_scale_symmetric"
_LQS = "linear_q_symmetric"
_QE = "quantization_error"

#: Questions that quantize through the student's `linear_q_with_scale_and_zero_point`.
_QUANTIZERS = {"L2-A": [_LQ], "L2-B": [_LQA], "L3-A": [_LQS], "L3-B": [_LQS]}
#: ... and those with a non-zero zero point (symmetric mode has z = 0).
_ASYMMETRIC_QUANTIZERS = {"L2-A": [_LQ], "L2-B": [_LQA]}
_ASYMMETRIC_PARAMETERS = {"L2-B": [_GSZ, _LQA]}
_SYMMETRIC = {"L3-A": [_GSS, _LQS], "L3-B": [_LQS]}


def _quantizer(body: str) -> str:
    """A `linear_q_with_scale_and_zero_point` with `body` computing `q_tensor` from `x`."""
    return _src(
        """
        def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
            q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
            x = tensor / scale + zero_point
        """
    ) + textwrap.indent(_src(body), "    ") + "    return q_tensor\n"


def _asymmetric_parameters(rule: str, *, range_of: str = "dtype",
                           scale: str = "(r_max - r_min) / (q_max - q_min)") -> str:
    """A `get_q_scale_and_zero_point` whose raw `zero_point` goes through `rule`; the integer range
    comes from `range_of` and the scale from the expression `scale`."""
    return _src(
        f"""
        def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
            q_min, q_max = torch.iinfo({range_of}).min, torch.iinfo({range_of}).max
            r_min, r_max = tensor.min().item(), tensor.max().item()
            scale = {scale}
            zero_point = q_min - (r_min / scale)
        """
    ) + textwrap.indent(_src(rule), "    ") + "    return scale, zero_point\n"


def _symmetric_scale(expression: str) -> str:
    return _src(
        f"""
        def get_q_scale_symmetric(tensor, dtype=torch.int8):
            return {expression}
        """
    )


def _error(expression: str) -> str:
    return _src(
        f"""
        def quantization_error(tensor, dequantized_tensor):
            return {expression}
        """
    )


_COURSE_CLIP = """
if zero_point < q_min:
    zero_point = q_min
elif zero_point > q_max:
    zero_point = q_max
else:
    zero_point = {rounding}
"""
#: The L2-B notebook's rule, for mistakes elsewhere in the function.
_COURSE_RULE = _COURSE_CLIP.format(rounding="int(round(zero_point))")

MISTAKES: dict[str, dict] = {
    "round_truncate_cast": {
        "lab": "L2-A",
        "functions": {_LQ: _quantizer("q_tensor = x.clamp(q_min, q_max).to(dtype)")},
        "affects": _QUANTIZERS,
    },
    "round_floor": {
        "lab": "L2-A",
        "functions": {_LQ: _quantizer("q_tensor = torch.floor(x).clamp(q_min, q_max).to(dtype)")},
        "affects": _QUANTIZERS,
    },
    "round_half_away": {
        "lab": "L2-A",
        "functions": {
            _LQ: _quantizer("q_tensor = (torch.sign(x) * torch.floor(x.abs() + 0.5)).clamp(q_min, q_max).to(dtype)")
        },
        "affects": _QUANTIZERS,
    },
    "round_half_away/floor_plus_half": {
        "lab": "L2-A",
        "functions": {_LQ: _quantizer("q_tensor = torch.floor(x + 0.5).clamp(q_min, q_max).to(dtype)")},
        "affects": _QUANTIZERS,
    },
    "round_before_zero_point": {
        "lab": "L2-A",
        "functions": {
            _LQ: _quantizer("q_tensor = (torch.round(tensor / scale) + zero_point).clamp(q_min, q_max).to(dtype)")
        },
        # z = 0 in symmetric mode: round(r/s) + 0 is the right code there.
        "affects": _ASYMMETRIC_QUANTIZERS,
    },
    "missing_clamp": {
        "lab": "L2-A",
        "functions": {_LQ: _quantizer("q_tensor = torch.round(x).to(dtype)")},
        # Symmetric codes never leave [-q_max, q_max], so the clamp is a no-op there.
        "affects": _ASYMMETRIC_QUANTIZERS,
    },
    "zero_point_subtracted": {
        "lab": "L2-A",
        "functions": {
            _LQ: _quantizer("q_tensor = torch.round(tensor / scale - zero_point).clamp(q_min, q_max).to(dtype)")
        },
        "affects": _ASYMMETRIC_QUANTIZERS,
    },
    "dequant_no_float_cast": {
        "lab": "L2-A",
        "functions": {
            _DQ: _src(
                """
                def linear_dequantization(quantized_tensor, scale, zero_point):
                    return scale * (quantized_tensor - zero_point)
                """
            )
        },
        "affects": {"L2-A": [_DQ]},
    },
    "dequant_sign": {
        "lab": "L2-A",
        "functions": {
            _DQ: _src(
                """
                def linear_dequantization(quantized_tensor, scale, zero_point):
                    return scale * (quantized_tensor.float() + zero_point)
                """
            )
        },
        "affects": {"L2-A": [_DQ]},
    },
    "dequant_sign/q_times_s_plus_z": {
        "lab": "L2-A",
        "functions": {
            _DQ: _src(
                """
                def linear_dequantization(quantized_tensor, scale, zero_point):
                    return quantized_tensor.float() * scale + zero_point
                """
            )
        },
        "affects": {"L2-A": [_DQ]},
    },
    "scale_inverted": {
        "lab": "L2-B",
        "functions": {
            _GSZ: _asymmetric_parameters(_COURSE_RULE, scale="(q_max - q_min) / (r_max - r_min)"),
        },
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "zero_point_truncated": {
        "lab": "L2-B",
        "functions": {_GSZ: _asymmetric_parameters(_COURSE_CLIP.format(rounding="int(zero_point)"))},
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "zero_point_not_rounded": {
        "lab": "L2-B",
        "functions": {_GSZ: _asymmetric_parameters(_COURSE_CLIP.format(rounding="zero_point"))},
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "zero_point_not_clipped": {
        "lab": "L2-B",
        "functions": {_GSZ: _asymmetric_parameters("zero_point = int(round(zero_point))")},
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "zero_point_clip_to_qmin": {
        "lab": "L2-B",
        "functions": {
            _GSZ: _asymmetric_parameters(
                """
                if zero_point < q_min or zero_point > q_max:
                    zero_point = q_min
                else:
                    zero_point = int(round(zero_point))
                """
            )
        },
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "int8_range_hardcoded": {
        "lab": "L2-B",
        "functions": {
            _GSZ: _asymmetric_parameters(_COURSE_RULE, range_of="torch.int8"),
        },
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "int8_range_hardcoded/quantize": {
        "lab": "L2-A",
        "functions": {
            _LQ: _src(
                """
                def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                    rounded = torch.round(tensor / scale + zero_point)
                    return rounded.clamp(-128, 127).to(dtype)
                """
            )
        },
        "affects": _QUANTIZERS,
    },
    "int8_range_hardcoded/symmetric": {
        "lab": "L3-A",
        "functions": {_GSS: _symmetric_scale("tensor.abs().max().item() / 127")},
        "affects": _SYMMETRIC,
    },
    "sym_scale_128": {
        "lab": "L3-A",
        "functions": {_GSS: _symmetric_scale("tensor.abs().max().item() / (torch.iinfo(dtype).max + 1)")},
        "affects": _SYMMETRIC,
    },
    "sym_scale_127_5": {
        "lab": "L3-A",
        "functions": {
            _GSS: _symmetric_scale(
                "tensor.abs().max().item() / ((torch.iinfo(dtype).max - torch.iinfo(dtype).min) / 2)"
            )
        },
        "affects": _SYMMETRIC,
    },
    "sym_scale_no_abs": {
        "lab": "L3-A",
        "functions": {_GSS: _symmetric_scale("tensor.max().item() / torch.iinfo(dtype).max")},
        "affects": _SYMMETRIC,
    },
    "dtype_not_forwarded": {
        "lab": "L3-A",
        "functions": {
            _LQS: _src(
                """
                def linear_q_symmetric(tensor, dtype=torch.int8):
                    scale = get_q_scale_symmetric(tensor)
                    quantized_tensor = linear_q_with_scale_and_zero_point(tensor, scale=scale, zero_point=0, dtype=dtype)
                    return quantized_tensor, scale
                """
            )
        },
        "affects": {"L3-A": [_LQS], "L3-B": [_LQS]},
    },
    "dtype_not_forwarded/linear_quantization": {
        "lab": "L2-B",
        "functions": {
            _LQA: _src(
                """
                def linear_quantization(tensor, dtype=torch.int8):
                    scale, zero_point = get_q_scale_and_zero_point(tensor)
                    quantized_tensor = linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=dtype)
                    return quantized_tensor, scale, zero_point
                """
            )
        },
        "affects": {"L2-B": [_LQA]},
    },
    "error_metric_mae": {
        "lab": "L3-B",
        "functions": {_QE: _error("(dequantized_tensor - tensor).abs().mean()")},
        "affects": {"L3-B": [_QE]},
    },
    "error_metric_sum": {
        "lab": "L3-B",
        "functions": {_QE: _error("(dequantized_tensor - tensor).square().sum()")},
        "affects": {"L3-B": [_QE]},
    },
    "error_metric_rmse": {
        "lab": "L3-B",
        "functions": {_QE: _error("(dequantized_tensor - tensor).square().mean().sqrt()")},
        "affects": {"L3-B": [_QE]},
    },
}

#: The LABS.md §5 ids these labs must catch (variants share the id before the slash).
MISTAKE_IDS = (
    "round_truncate_cast", "round_floor", "round_half_away", "round_before_zero_point",
    "missing_clamp", "zero_point_subtracted", "dequant_no_float_cast", "dequant_sign",
    "scale_inverted", "zero_point_truncated", "zero_point_not_rounded", "zero_point_not_clipped",
    "zero_point_clip_to_qmin", "int8_range_hardcoded", "sym_scale_128", "sym_scale_127_5",
    "sym_scale_no_abs", "dtype_not_forwarded", "error_metric_mae", "error_metric_sum",
    "error_metric_rmse",
)




#: What a student reads when their function behaves like the mistake (the id before any "/").
_CORE_EXPLANATIONS = {
    "round_truncate_cast": "Your codes look truncated, not rounded: `.to(dtype)` drops the fraction. "
    "Round with `torch.round` before clamping and casting.",
    "round_floor": "Your codes look rounded down (floor). Use `torch.round`, which rounds to the nearest integer.",
    "round_half_away": "Exact halves are rounded away from zero in your code. `torch.round` rounds them to the "
    "nearest even integer (0.5 -> 0, 1.5 -> 2, 2.5 -> 2).",
    "round_before_zero_point": "You round `r / s` and then add the zero point. Add the zero point first, then round: "
    "`torch.round(r / s + z)`. The two differ on exact halves when z is odd.",
    "missing_clamp": "Values beyond the integer range wrap around (127 + 1 becomes -128). Clamp to "
    "`[q_min, q_max]` before casting.",
    "zero_point_subtracted": "The zero point is subtracted. Quantization adds it: `q = round(r / s + z)`; "
    "dequantization subtracts it: `s * (q - z)`.",
    "dequant_no_float_cast": "`q - z` is computed in the integer dtype and wraps around. Cast first: "
    "`scale * (quantized_tensor.float() - zero_point)`.",
    "dequant_sign": "Dequantization is `s * (q - z)`: subtract the zero point, then multiply by the scale.",
    "scale_inverted": "Your scale is upside down. It is `(r_max - r_min) / (q_max - q_min)`: real units per integer step.",
    "zero_point_truncated": "`int(z)` cuts the fraction off (toward zero). Round the zero point: `int(round(z))`.",
    "zero_point_not_rounded": "The zero point must be a Python int: round it with `int(round(z))`.",
    "zero_point_not_clipped": "A zero point outside `[q_min, q_max]` must be clipped: below the range it becomes "
    "`q_min`, above it `q_max`.",
    "zero_point_clip_to_qmin": "A zero point above the range should become `q_max`, not `q_min` (only one below "
    "the range becomes `q_min`).",
    "int8_range_hardcoded": "The integer range is fixed to int8. Take it from the dtype you are given: "
    "`torch.iinfo(dtype).min` and `.max`.",
    "sym_scale_128": "The symmetric scale divides by 128. It is `max|r| / q_max`, and `q_max` is 127 for int8.",
    "sym_scale_127_5": "The symmetric scale divides by 127.5, the half-range. It is `max|r| / q_max` (127 for int8).",
    "sym_scale_no_abs": "The symmetric scale uses the largest value, not the largest magnitude. Use "
    "`tensor.abs().max()`, so negative values count too.",
    "dtype_not_forwarded": "The dtype is not passed on to the scale computation, so other dtypes get int8's "
    "scale. Pass `dtype=dtype` along.",
    "error_metric_mae": "This is the mean absolute error. The lab's error is the mean squared error: "
    "`(dq - r).square().mean()`.",
    "error_metric_sum": "This is the sum of squared errors. Divide by the number of elements: take the mean.",
    "error_metric_rmse": "This is the root of the mean squared error. The lab's error is the MSE itself, "
    "without the square root.",
}


# Labs L4-A and L4-B (quant_mistakes/layers.py): the course-literal notebook holds their code too, so
# one namespace serves every lab.
from . import layers as _layers  # noqa: E402

QUESTIONS = {**QUESTIONS, **_layers.QUESTIONS}
FUNCTIONS = FUNCTIONS + _layers.FUNCTIONS
COURSE_LITERAL = COURSE_LITERAL + "\n\n" + _layers.COURSE_LAYERS
MISTAKES = {**MISTAKES, **_layers.MISTAKES}
MISTAKE_IDS = MISTAKE_IDS + _layers.MISTAKE_IDS
EXPLANATIONS = {**_CORE_EXPLANATIONS, **_layers.EXPLANATIONS}


def probe_inspection(question: str):
    """The quantlab inspection that probes `question` (a class, an in-place function), or None."""
    return _layers.PROBE_INSPECTIONS().get(question)


def source(mistake: str) -> str:
    """The whole notebook of a student who made `mistake` and nothing else."""
    return COURSE_LITERAL + "\n\n" + "\n\n".join(MISTAKES[mistake]["functions"].values())


@functools.lru_cache(maxsize=None)
def model(mistake: str | None) -> dict:
    """The namespace of `source(mistake)` (`None`: the course-literal notebook)."""
    namespace: dict = {"__name__": f"quant_mistakes.model.{mistake}"}
    code = COURSE_LITERAL if mistake is None else source(mistake)
    exec(compile(code, f"<mistake {mistake}>", "exec"), namespace)
    return namespace


def explain(*mistakes: str) -> str:
    """The explanation of one mistake, or of two that give the same results on every probe."""
    texts = [EXPLANATIONS[m.split("/")[0]] for m in mistakes]
    if len(texts) == 1:
        return texts[0]
    return "Your results fit two known mistakes equally well; one of them is likely. " + " Or: ".join(texts)


def probes() -> dict[str, list[tuple[tuple, dict]]]:
    """Inputs on which the mistakes of each question show (LABS §5), as (args, kwargs); fresh each call."""
    import torch
    from quantlab import fixtures

    t, n = fixtures.T(), fixtures.N()
    ties = torch.tensor([0.25, 0.75, 1.25, -0.25, -0.75, 2.5, -3.5])
    codes = torch.tensor([[-15, -74, 127], [-44, 14, -123], [-70, 126, 0]], dtype=torch.int8)
    mixed = torch.tensor([-2.0, 1.0, 0.5])
    # Exact ties: the computed scale is 0.5 and, for the asymmetric one, the zero point -127 (odd).
    asymmetric_ties = torch.tensor([-0.5, 127.0, 0.25, 0.75, 1.25, -0.25])
    symmetric_ties = torch.tensor([63.5, 0.25, 0.75, 1.25, -0.25, -0.75, 2.25])
    asymmetric = [((t,), {}), ((t,), {"dtype": torch.uint8}), ((n,), {}), ((t,), {"dtype": torch.int16}),
                  ((asymmetric_ties,), {})]
    symmetric = [((t,), {}), ((t,), {"dtype": torch.int16}), ((mixed,), {}), ((n,), {"dtype": torch.uint8}),
                 ((symmetric_ties,), {})]
    return {
        "linear_q_with_scale_and_zero_point": [
            ((t, 3.5, -70), {}), ((ties, 0.5, 0), {}), ((ties, 0.5, 1), {}),
            ((t, 3.578823433670343, 51), {"dtype": torch.uint8}), ((t * 40, 1.0, 3), {"dtype": torch.int16}),
        ],
        "linear_dequantization": [((codes, 3.5, -70), {}), ((codes.to(torch.int16) * 200, 0.25, -30000), {})],
        "get_q_scale_and_zero_point": asymmetric,
        "linear_quantization": asymmetric,
        "get_q_scale_symmetric": symmetric,
        "linear_q_symmetric": symmetric,
        "quantization_error": [((t, 3.5 * (codes.float() + 70)), {}), ((mixed, mixed * 1.5), {})],
        **_layers.probes(),
    }
