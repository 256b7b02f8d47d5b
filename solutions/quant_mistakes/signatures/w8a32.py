"""Signatures of the mistakes of lab L3-E: each recognised by what it does, whatever its form.

A probe gives `quantized_linear_W8A32_without_bias(x, q_w, s_w, z_w)`; its output is compared, in
float64, with the layer computed from a weight dequantized another way.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from quant_mistakes.signatures import Case, Signature, same
from quant_mistakes.signatures.quantize import value_close

W8A32 = "quantized_linear_W8A32_without_bias"

Dequantize = Callable[[torch.Tensor, float, float], torch.Tensor]


def layer_with(*dequantized: Dequantize, shown_by_zero_point: bool = False) -> Callable[[Case], bool | None]:
    """The output is `x @ W.T` for a weight W = one of `dequantized(q, s, z)` (computed in float64).
    With `shown_by_zero_point`, a probe whose zero point is 0 cannot show the mistake: there the
    student's output must be the course's."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        x, codes, scale, zero_point = case.args[:4]
        if shown_by_zero_point and float(zero_point) == 0:
            return None if same(case.theirs, case.course) else False
        return any(value_close(case.theirs, x.double() @ weight(codes.double(), float(scale), float(zero_point)).T)
                   for weight in dequantized)

    return shows


SIGNATURES = (
    Signature("w8a32_missing_scale", W8A32, layer_with(lambda q, s, z: q - z, lambda q, s, z: q),
              "the weight used as integer codes, with or without its zero point, never scaled"),
    Signature("w8a32_transposed_weight", W8A32, layer_with(lambda q, s, z: (s * (q - z)).T),
              "the dequantized weight transposed: the output is x @ W, not x @ W.T"),
    Signature("dequant_sign", W8A32,
              layer_with(lambda q, s, z: s * (q + z), lambda q, s, z: q * s + z, shown_by_zero_point=True),
              "the weight dequantized with the zero point added, not subtracted"),
)
