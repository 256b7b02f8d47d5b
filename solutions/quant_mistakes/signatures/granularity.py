"""Signatures of the mistakes of labs L3-C and L3-D: each recognised by what it does, whatever its form.

A per-channel probe gives `(codes, scale)` of `linear_q_symmetric_per_channel(r, dim)`; a per-group
probe those of `linear_q_symmetric_per_group(r, group_size)`, which quantizes the groups
`r.view(-1, group_size)` per channel along dim 0. A mistake is recognised by the scale's values and
shape, the codes being the course's rounding of `r` by that scale, as the student shaped it; groups
taken down the columns, by the scales and codes of those groups (and by dequantizing them so).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from quant_mistakes.signatures import Case, Signature
from quant_mistakes.signatures.quantize import PER_CHANNEL, PER_GROUP, consistent, dtype_of, value_close

DEQUANTIZE_PER_GROUP = "linear_dequantization_per_group"


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


def by_columns(tensor: torch.Tensor, group_size: int) -> torch.Tensor:
    """The groups of a (rows, columns) tensor taken down its columns: the transpose viewed in groups."""
    return tensor.T.reshape(-1, group_size)


def from_columns(groups: torch.Tensor, shape) -> torch.Tensor:
    """A tensor of `shape` from its groups taken down its columns."""
    return groups.reshape(shape[1], shape[0]).T


def grouped_down_columns(case: Case) -> bool | None:
    """Scales of groups taken down the columns, and the codes of those groups with them."""
    if case.raised:
        return None
    if not pair(case.theirs):
        return False
    tensor, group_size = case.args[0], int(case.args[1])
    info = torch.iinfo(dtype_of(case, PER_GROUP))
    groups = by_columns(tensor, group_size)
    codes, scale = case.theirs
    if not close(scale, groups.abs().amax(dim=1) / info.max):
        return False
    column = scale.double().reshape(-1, 1)
    for divided in (groups.double() / column, (groups.float() / column.float()).double()):
        expected = from_columns(torch.round(divided).clamp(info.min, info.max), tensor.shape)
        if isinstance(codes, torch.Tensor) and codes.dtype == dtype_of(case, PER_GROUP) and torch.equal(
                codes.long(), expected.long()):
            return True
    return False


def dequantized_down_columns(case: Case) -> bool | None:
    """Each group's scale applied to a group taken down the columns."""
    if case.raised:
        return None
    codes, scale, group_size = case.args[0], case.args[1], int(case.args[2])
    expected = from_columns(by_columns(codes, group_size).double() * scale.double().reshape(-1, 1), codes.shape)
    found = case.theirs
    return (isinstance(found, torch.Tensor) and found.shape == expected.shape
            and value_close(found, expected))


SIGNATURES = (
    Signature("per_group_wrong_axis", PER_GROUP, grouped_down_columns,
              "groups taken down the columns instead of along the rows"),
    Signature("per_group_wrong_axis", DEQUANTIZE_PER_GROUP, dequantized_down_columns,
              "the groups' scales applied down the columns instead of along the rows"),
) + tuple(
    signature
    for question in (PER_CHANNEL, PER_GROUP)
    for signature in (
        Signature("per_channel_wrong_dim", question, scales_over_dim(question),
                  "the scales are the maxima along dim: one per index of the other dimension"),
        Signature("per_channel_missing_reshape", question, flat_scale(question),
                  "the scale is a flat 1-D tensor, not shaped to broadcast along dim"),
    )
)
