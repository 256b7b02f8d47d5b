"""Signatures of the mistakes of labs L5-B and L5-C: each recognised by what it does, whatever its form.

A packing probe gives `pack_weights(values, bits)`: the probe's values are repacked here with the
shifts a mistake uses instead of `bits * j` (the highest bits first, the position alone, ...), as a
uint8 holds the result (bits shifted past the byte are lost), whether the values are ORed or added.
An unpacking probe gives `unpack_weights(bytes, bits)`: the bytes are read here as the mistake
reads them (from the highest bits first, or without the mask).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from quant_mistakes.signatures import Case, Signature

PACK = "pack_weights"
UNPACK = "unpack_weights"

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


def packed_with(*shifts) -> Callable[[Case], bool | None]:
    """The bytes are the probe's values packed with one of `shifts`, the same one for every byte."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        values, bits = case.args[0], int(case.args[1])
        found = case.theirs
        if not isinstance(found, torch.Tensor) or found.dtype != torch.uint8 or found.shape != case.course.shape:
            return False
        return any(torch.equal(found, candidate) for shift in shifts for candidate in packed(values, bits, shift))

    return shows


def unpacked(packed_bytes: torch.Tensor, bits: int, shift, mask: bool) -> torch.Tensor:
    """Each byte's `8 // bits` values read from `shift(j, bits)`, masked to `bits` bits or not."""
    per_byte = 8 // bits
    values = torch.stack([packed_bytes.long() >> shift(j, bits) for j in range(per_byte)], dim=1).flatten()
    return (values & (2**bits - 1) if mask else values).to(torch.uint8)


def unpacked_with(shift, *, mask: bool) -> Callable[[Case], bool | None]:
    """The values are the probe's bytes read from `shift(j, bits)`, masked or not."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        packed_bytes, bits = case.args[0], int(case.args[1])
        found = case.theirs
        return (isinstance(found, torch.Tensor) and found.dtype == torch.uint8
                and torch.equal(found, unpacked(packed_bytes, bits, shift, mask)))

    return shows


def lowest_first(j, bits):
    return bits * j


def highest_first(j, bits):
    return 8 - bits * (j + 1)


SIGNATURES = (
    Signature("pack_wrong_shift", PACK, packed_with(*WRONG_SHIFTS),
              "values shifted by their position, by the width alone or one width too far, not by bits * j"),
    Signature("pack_msb_first", PACK, packed_with(highest_first), "the first value of a byte in its highest bits"),
    Signature("unpack_no_mask", UNPACK, unpacked_with(lowest_first, mask=False),
              "values shifted right but not masked: the higher values come along"),
    Signature("unpack_msb_first", UNPACK, unpacked_with(highest_first, mask=True),
              "the first value read from the highest bits of its byte"),
)
