"""Mistakes of lab L3-E: the weight used as raw codes, transposed, or dequantized with the course's
`q * s + z`, which is right only when the zero point is 0 (docs/course.md §3.3)."""

from __future__ import annotations

from quant_mistakes.course import dedent
from quant_mistakes.mistakes import Mistake

W8A32 = "quantized_linear_W8A32_without_bias"


def w8a32(dequantized: str, weight: str = "dequantized_weight") -> str:
    """The course's W8A32 with the weight dequantized by `dequantized` and passed on as `weight`."""
    return dedent(
        f"""
        def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
            dequantized_weight = {dequantized}
            return torch.nn.functional.linear(input, {weight})
        """
    )


MISTAKES = (
    Mistake(
        "w8a32_missing_scale",
        functions={W8A32: w8a32("q_w.to(torch.float32) - z_w")},
        affects={"L3-E": (W8A32,)},
    ),
    Mistake(
        "w8a32_transposed_weight",
        functions={W8A32: w8a32("s_w * (q_w.to(torch.float32) - z_w)", weight="dequantized_weight.T")},
        affects={"L3-E": (W8A32,)},
    ),
    Mistake(
        "dequant_sign/w8a32_course",
        # The course's own line: right only when the zero point is 0 (decision §3.3).
        functions={W8A32: w8a32("q_w.to(torch.float32) * s_w + z_w")},
        affects={"L3-E": (W8A32,)},
    ),
)
