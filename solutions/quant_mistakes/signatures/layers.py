"""Signatures of the mistakes of labs L4-A and L4-B that a catalogued form alone does not catch.

The layer's probes are `layer_findings` inspections: the layer's buffers and parameters, its codes
and scales after `quantize(weights)`, and its outputs (`quantlab.layer_findings`).
"""

from __future__ import annotations

import torch

from quant_mistakes.signatures import Case, Signature, raises, same

LAYER = "W8A16LinearLayer"

#: What torch says when an int8 tensor is made a Parameter (which requires gradients by default).
INT8_PARAMETER_ERROR = raises("RuntimeError", match=r"only tensors of floating point.*can require gradients")


def int8_parameter(case: Case) -> bool | None:
    """int8_weights is a Parameter: torch refuses it (requires_grad), or it is listed among the
    parameters with the right codes, scales and outputs."""
    if case.raised:
        return INT8_PARAMETER_ERROR(case)
    theirs, course = case.theirs, case.course
    listed = {**theirs.get("parameters", {}), **theirs.get("parameters_after_quantize", {})}
    if "int8_weights" not in listed:
        return False
    return all(same(theirs.get(key), course[key]) for key in ("int8_weights", "scales", "outputs") if key in course)


def column_codes(weights: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Per-column scales of `weights` (max over the output dimension / 127, in the weights' dtype),
    and the codes that scales like these give: in float32 or cast to the weights' dtype first,
    divided in float32 or in the weights' dtype."""
    single = weights.float().abs().max(dim=0).values / 127
    scales = single.to(weights.dtype)

    def codes(divided: torch.Tensor) -> torch.Tensor:
        return torch.round(divided.float()).clamp(-128, 127).to(torch.int8)

    candidates = [codes(weights.float() / single), codes(weights.float() / scales.float()), codes(weights / scales)]
    if weights.shape[0] == weights.shape[1]:  # a per-column scale broadcast along rows, as unsqueeze(1) does
        candidates += [codes(weights.float() / single[:, None]), codes(weights.float() / scales.float()[:, None])]
    return scales, candidates


def scales_per_column(case: Case) -> bool | None:
    """Codes made with one scale per input column; the scales stored per column, or per row as they should be."""
    if case.raised or "weights" not in case.kwargs:
        return None
    scales, codes = column_codes(case.kwargs["weights"])
    theirs = case.theirs
    return (any(same(theirs.get("int8_weights"), c) for c in codes)
            and any(same(theirs.get("scales"), s) for s in (scales, case.course.get("scales"))))


SIGNATURES = (
    Signature("w8a16_int8_parameter", LAYER, int8_parameter,
              "int8_weights made an nn.Parameter (a RuntimeError, or a parameter where a buffer belongs)"),
    Signature("w8a16_scales_per_column", LAYER, scales_per_column,
              "codes computed with one scale per input column"),
)
