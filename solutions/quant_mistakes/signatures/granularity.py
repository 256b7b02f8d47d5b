"""Signatures of the mistakes of labs L3-C and L3-D that a catalogued form alone does not catch.

A per-channel probe gives `(codes, scale)` of `linear_q_symmetric_per_channel(r, dim)`; a per-group
probe those of `linear_q_symmetric_per_group(r, group_size)`, which quantizes the groups
`r.view(-1, group_size)` per channel along dim 0. A mistake is recognised by the scale's values and
shape, the codes being the course's rounding of `r` by that scale, as the student shaped it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from quant_mistakes.signatures import Case, Signature
from quant_mistakes.signatures.quantize import PER_CHANNEL, PER_GROUP, consistent, dtype_of


def channels(question: str, args: tuple) -> tuple[torch.Tensor, int]:
    """The tensor that is quantized per channel, and the dimension of its channels."""
    if question == PER_GROUP:
        return args[0].reshape(-1, int(args[1])), 0
    return args[0], int(args[1])


def close(scale, expected: torch.Tensor) -> bool:
    """`scale` holds the values of `expected`, in the same order, whatever its shape."""
    return (isinstance(scale, torch.Tensor) and scale.is_floating_point() and scale.numel() == expected.numel()
            and bool(torch.allclose(scale.double().flatten(), expected.double().flatten(), rtol=1e-5, atol=1e-12)))


def pair(finding) -> bool:
    """A finding of these questions: `(codes, scale)`."""
    return isinstance(finding, (tuple, list)) and len(finding) == 2


def scales_over_dim(question: str) -> Callable[[Case], bool | None]:
    """One scale per index of the other dimension: the maxima taken *along* dim, in any shape, and
    codes that are the course's rounding with that scale."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        if not pair(case.theirs):
            return False
        tensor, dim = channels(question, case.args)
        dtype = dtype_of(case, question)
        expected = tensor.abs().amax(dim=dim) / torch.iinfo(dtype).max
        return close(case.theirs[1], expected) and consistent(question, case, dtype)

    return shows


def flat_scale(question: str) -> Callable[[Case], bool | None]:
    """The course's scale values as a 1-D tensor; codes made with it (broadcast along the last
    dimension), or right because the scale was only returned flat."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        if not pair(case.theirs):
            return False
        codes, scale = case.theirs
        if not (isinstance(scale, torch.Tensor) and scale.dim() == 1 and close(scale, case.course[1])):
            return False
        dtype = dtype_of(case, question)
        return torch.equal(codes, case.course[0]) or consistent(question, case, dtype)

    return shows


SIGNATURES = tuple(
    signature
    for question in (PER_CHANNEL, PER_GROUP)
    for signature in (
        Signature("per_channel_wrong_dim", question, scales_over_dim(question),
                  "the scales are the maxima along dim: one per index of the other dimension"),
        Signature("per_channel_missing_reshape", question, flat_scale(question),
                  "the scale is a flat 1-D tensor, not shaped to broadcast along dim"),
    )
)
