"""Signatures of the mistakes of labs L5-B and L5-C that a catalogued form alone does not catch.

A packing probe gives `pack_weights(values, bits)`; a wrong shift is recognised by repacking the
probe's values with each shift a student plausibly writes instead of `bits * j`, as a uint8 holds
the result (bits shifted past the byte are lost), whether the values are ORed or added.
"""

from __future__ import annotations

import torch

from quant_mistakes.signatures import Case, Signature

PACK = "pack_weights"

#: Shifts of value j of a byte (of `per_byte` values of `bits` bits) other than the right `bits * j`:
#: the position alone, the width alone, one width too far, and the width of the other lab's codes.
WRONG_SHIFTS = (
    lambda j, bits: j,
    lambda j, bits: bits,
    lambda j, bits: bits * (j + 1),
    lambda j, bits: 2 * j,
    lambda j, bits: 4 * j,
)


def packed(values: torch.Tensor, bits: int, shift) -> list[torch.Tensor]:
    """`values` packed with `shift(j, bits)`, as uint8 bytes: ORed, and added."""
    per_byte = 8 // bits
    groups = values.long().reshape(-1, per_byte)
    parts = [(groups[:, j] << shift(j, bits)) & 0xFF for j in range(per_byte)]
    ored, added = torch.zeros_like(parts[0]), torch.zeros_like(parts[0])
    for part in parts:
        ored |= part
        added += part
    return [ored.to(torch.uint8), (added & 0xFF).to(torch.uint8)]


def shifted_wrong(case: Case) -> bool | None:
    """The bytes are the probe's values packed with one of `WRONG_SHIFTS`, the same one for every byte."""
    if case.raised:
        return None
    values, bits = case.args[0], int(case.args[1])
    found = case.theirs
    if not isinstance(found, torch.Tensor) or found.dtype != torch.uint8 or found.shape != case.course.shape:
        return False
    return any(torch.equal(found, candidate) for shift in WRONG_SHIFTS for candidate in packed(values, bits, shift))


SIGNATURES = (
    Signature("pack_wrong_shift", PACK, shifted_wrong,
              "values shifted by their position, by the width alone or one width too far, not by bits * j"),
)
