"""Mistakes of labs L2-A to L3-B: rounding, clamping, the zero point, scales, dtypes, the error metric.

Most of them live in a helper that later labs call through the student's own copy, so `affects`
reaches into every lab that quantizes with it (per channel and per group included).
"""

from __future__ import annotations

import textwrap

from quant_mistakes.course import dedent
from quant_mistakes.mistakes import Mistake

QUANTIZE = "linear_q_with_scale_and_zero_point"
DEQUANTIZE = "linear_dequantization"
ASYMMETRIC_PARAMETERS = "get_q_scale_and_zero_point"
QUANTIZE_ASYMMETRIC = "linear_quantization"
SYMMETRIC_SCALE = "get_q_scale_symmetric"
QUANTIZE_SYMMETRIC = "linear_q_symmetric"
ERROR = "quantization_error"
PER_CHANNEL = "linear_q_symmetric_per_channel"
PER_GROUP = "linear_q_symmetric_per_group"

#: Questions that quantize through the student's `linear_q_with_scale_and_zero_point` (per group
#: through per channel, as the course's code does).
QUANTIZING = {
    "L2-A": (QUANTIZE,), "L2-B": (QUANTIZE_ASYMMETRIC,), "L3-A": (QUANTIZE_SYMMETRIC,), "L3-B": (QUANTIZE_SYMMETRIC,),
    "L3-C": (PER_CHANNEL,), "L3-D": (PER_GROUP,),
}
#: ... and those with a non-zero zero point (symmetric mode has z = 0).
QUANTIZING_ASYMMETRIC = {"L2-A": (QUANTIZE,), "L2-B": (QUANTIZE_ASYMMETRIC,)}
ASYMMETRIC_PARAMETERS_QUESTIONS = {"L2-B": (ASYMMETRIC_PARAMETERS, QUANTIZE_ASYMMETRIC)}
SYMMETRIC_QUESTIONS = {
    "L3-A": (SYMMETRIC_SCALE, QUANTIZE_SYMMETRIC), "L3-B": (QUANTIZE_SYMMETRIC,), "L3-C": (PER_CHANNEL,),
    "L3-D": (PER_GROUP,),
}


def quantizer(body: str) -> str:
    """A `linear_q_with_scale_and_zero_point` with `body` computing `q_tensor` from `x`."""
    return dedent(
        """
        def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
            q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
            x = tensor / scale + zero_point
        """
    ) + textwrap.indent(dedent(body), "    ") + "    return q_tensor\n"


def asymmetric_parameters(rule: str, *, range_of: str = "dtype",
                           scale: str = "(r_max - r_min) / (q_max - q_min)") -> str:
    """A `get_q_scale_and_zero_point` whose raw `zero_point` goes through `rule`; the integer range
    comes from `range_of` and the scale from the expression `scale`."""
    return dedent(
        f"""
        def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
            q_min, q_max = torch.iinfo({range_of}).min, torch.iinfo({range_of}).max
            r_min, r_max = tensor.min().item(), tensor.max().item()
            scale = {scale}
            zero_point = q_min - (r_min / scale)
        """
    ) + textwrap.indent(dedent(rule), "    ") + "    return scale, zero_point\n"


def symmetric_scale(expression: str) -> str:
    return dedent(
        f"""
        def get_q_scale_symmetric(tensor, dtype=torch.int8):
            return {expression}
        """
    )


def error(expression: str) -> str:
    return dedent(
        f"""
        def quantization_error(tensor, dequantized_tensor):
            return {expression}
        """
    )


COURSE_CLIP = """
if zero_point < q_min:
    zero_point = q_min
elif zero_point > q_max:
    zero_point = q_max
else:
    zero_point = {rounding}
"""
#: The L2-B notebook's rule, for mistakes elsewhere in the function.
COURSE_RULE = COURSE_CLIP.format(rounding="int(round(zero_point))")

MISTAKES = (
    Mistake(
        "round_truncate_cast",
        functions={QUANTIZE: quantizer("q_tensor = x.clamp(q_min, q_max).to(dtype)")},
        affects=QUANTIZING,
    ),
    Mistake(
        "round_floor",
        functions={QUANTIZE: quantizer("q_tensor = torch.floor(x).clamp(q_min, q_max).to(dtype)")},
        affects=QUANTIZING,
    ),
    Mistake(
        "round_half_away",
        functions={
            QUANTIZE: quantizer("q_tensor = (torch.sign(x) * torch.floor(x.abs() + 0.5)).clamp(q_min, q_max).to(dtype)")
        },
        affects=QUANTIZING,
    ),
    Mistake(
        "round_half_away/floor_plus_half",
        functions={QUANTIZE: quantizer("q_tensor = torch.floor(x + 0.5).clamp(q_min, q_max).to(dtype)")},
        affects=QUANTIZING,
    ),
    Mistake(
        "round_before_zero_point",
        functions={
            QUANTIZE: quantizer("q_tensor = (torch.round(tensor / scale) + zero_point).clamp(q_min, q_max).to(dtype)")
        },
        # z = 0 in symmetric mode: round(r/s) + 0 is the right code there.
        affects=QUANTIZING_ASYMMETRIC,
    ),
    Mistake(
        "missing_clamp",
        functions={QUANTIZE: quantizer("q_tensor = torch.round(x).to(dtype)")},
        # Symmetric codes never leave [-q_max, q_max], so the clamp is a no-op there.
        affects=QUANTIZING_ASYMMETRIC,
    ),
    Mistake(
        "zero_point_subtracted",
        functions={
            QUANTIZE: quantizer("q_tensor = torch.round(tensor / scale - zero_point).clamp(q_min, q_max).to(dtype)")
        },
        affects=QUANTIZING_ASYMMETRIC,
    ),
    Mistake(
        "dequant_no_float_cast",
        functions={
            DEQUANTIZE: dedent(
                """
                def linear_dequantization(quantized_tensor, scale, zero_point):
                    return scale * (quantized_tensor - zero_point)
                """
            )
        },
        affects={"L2-A": (DEQUANTIZE,)},
    ),
    Mistake(
        "dequant_sign",
        functions={
            DEQUANTIZE: dedent(
                """
                def linear_dequantization(quantized_tensor, scale, zero_point):
                    return scale * (quantized_tensor.float() + zero_point)
                """
            )
        },
        affects={"L2-A": (DEQUANTIZE,)},
    ),
    Mistake(
        "dequant_sign/q_times_s_plus_z",
        functions={
            DEQUANTIZE: dedent(
                """
                def linear_dequantization(quantized_tensor, scale, zero_point):
                    return quantized_tensor.float() * scale + zero_point
                """
            )
        },
        affects={"L2-A": (DEQUANTIZE,)},
    ),
    Mistake(
        "scale_inverted",
        functions={
            ASYMMETRIC_PARAMETERS: asymmetric_parameters(COURSE_RULE, scale="(q_max - q_min) / (r_max - r_min)"),
        },
        affects=ASYMMETRIC_PARAMETERS_QUESTIONS,
    ),
    Mistake(
        "zero_point_truncated",
        functions={ASYMMETRIC_PARAMETERS: asymmetric_parameters(COURSE_CLIP.format(rounding="int(zero_point)"))},
        affects=ASYMMETRIC_PARAMETERS_QUESTIONS,
    ),
    Mistake(
        "zero_point_not_rounded",
        functions={ASYMMETRIC_PARAMETERS: asymmetric_parameters(COURSE_CLIP.format(rounding="zero_point"))},
        affects=ASYMMETRIC_PARAMETERS_QUESTIONS,
    ),
    Mistake(
        "zero_point_not_clipped",
        functions={ASYMMETRIC_PARAMETERS: asymmetric_parameters("zero_point = int(round(zero_point))")},
        affects=ASYMMETRIC_PARAMETERS_QUESTIONS,
    ),
    Mistake(
        "zero_point_clip_to_qmin",
        functions={
            ASYMMETRIC_PARAMETERS: asymmetric_parameters(
                """
                if zero_point < q_min or zero_point > q_max:
                    zero_point = q_min
                else:
                    zero_point = int(round(zero_point))
                """
            )
        },
        affects=ASYMMETRIC_PARAMETERS_QUESTIONS,
    ),
    Mistake(
        "int8_range_hardcoded",
        functions={
            ASYMMETRIC_PARAMETERS: asymmetric_parameters(COURSE_RULE, range_of="torch.int8"),
        },
        affects=ASYMMETRIC_PARAMETERS_QUESTIONS,
    ),
    Mistake(
        "int8_range_hardcoded/quantize",
        functions={
            QUANTIZE: dedent(
                """
                def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                    rounded = torch.round(tensor / scale + zero_point)
                    return rounded.clamp(-128, 127).to(dtype)
                """
            )
        },
        affects=QUANTIZING,
    ),
    Mistake(
        "int8_range_hardcoded/symmetric",
        functions={SYMMETRIC_SCALE: symmetric_scale("tensor.abs().max().item() / 127")},
        affects=SYMMETRIC_QUESTIONS,
    ),
    Mistake(
        "sym_scale_128",
        functions={SYMMETRIC_SCALE: symmetric_scale("tensor.abs().max().item() / (torch.iinfo(dtype).max + 1)")},
        affects=SYMMETRIC_QUESTIONS,
    ),
    Mistake(
        "sym_scale_127_5",
        functions={
            SYMMETRIC_SCALE: symmetric_scale(
                "tensor.abs().max().item() / ((torch.iinfo(dtype).max - torch.iinfo(dtype).min) / 2)"
            )
        },
        affects=SYMMETRIC_QUESTIONS,
    ),
    Mistake(
        "sym_scale_no_abs",
        functions={SYMMETRIC_SCALE: symmetric_scale("tensor.max().item() / torch.iinfo(dtype).max")},
        affects=SYMMETRIC_QUESTIONS,
    ),
    Mistake(
        "dtype_not_forwarded",
        functions={
            QUANTIZE_SYMMETRIC: dedent(
                """
                def linear_q_symmetric(tensor, dtype=torch.int8):
                    scale = get_q_scale_symmetric(tensor)
                    quantized_tensor = linear_q_with_scale_and_zero_point(tensor, scale=scale, zero_point=0, dtype=dtype)
                    return quantized_tensor, scale
                """
            )
        },
        affects={"L3-A": (QUANTIZE_SYMMETRIC,), "L3-B": (QUANTIZE_SYMMETRIC,)},
    ),
    Mistake(
        "dtype_not_forwarded/linear_quantization",
        functions={
            QUANTIZE_ASYMMETRIC: dedent(
                """
                def linear_quantization(tensor, dtype=torch.int8):
                    scale, zero_point = get_q_scale_and_zero_point(tensor)
                    quantized_tensor = linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=dtype)
                    return quantized_tensor, scale, zero_point
                """
            )
        },
        affects={"L2-B": (QUANTIZE_ASYMMETRIC,)},
    ),
    Mistake(
        "error_metric_mae",
        functions={ERROR: error("(dequantized_tensor - tensor).abs().mean()")},
        affects={"L3-B": (ERROR,)},
    ),
    Mistake(
        "error_metric_sum",
        functions={ERROR: error("(dequantized_tensor - tensor).square().sum()")},
        affects={"L3-B": (ERROR,)},
    ),
    Mistake(
        "error_metric_rmse",
        functions={ERROR: error("(dequantized_tensor - tensor).square().mean().sqrt()")},
        affects={"L3-B": (ERROR,)},
    ),
)
