"""Labs L5-B and L5-C: packing low-bit codes into bytes and back (docs/course.md §2, §3.7).

LSB-first: with k = 8 // bits values per byte, byte i holds elements i*k ... i*k+k-1 and
element j of the byte sits `bits*j` bits up, so the first element is in the lowest bits.
"""

from __future__ import annotations

import torch

__all__ = ["pack_weights", "unpack_weights"]


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in (1, 2, 4, 8):
        raise ValueError(f"bits must be 1, 2, 4 or 8 (a divisor of 8), got {bits!r}")
    return 8 // bits


def _check_bytes(tensor, what: str) -> None:
    if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.uint8 or tensor.dim() != 1:
        raise ValueError(f"{what} should be a 1-D torch.uint8 tensor")
    if tensor.numel() == 0:
        raise ValueError(f"{what} is empty")


def pack_weights(uint8tensor, bits):
    """n codes of `bits` bits each -> n*bits//8 bytes, first code in the lowest bits."""
    per_byte = _check_bits(bits)
    _check_bytes(uint8tensor, "the tensor to pack")
    if uint8tensor.numel() % per_byte != 0:
        raise ValueError(
            f"the input length {uint8tensor.numel()} is not a multiple of {per_byte} ({bits}-bit codes, "
            f"{per_byte} per byte)"
        )
    if int(uint8tensor.max()) >= 2**bits:
        raise ValueError(f"a {bits}-bit code must be below {2**bits}, got {int(uint8tensor.max())}")
    groups = uint8tensor.reshape(-1, per_byte).to(torch.int32)
    shifts = torch.arange(per_byte, dtype=torch.int32) * bits
    # The codes occupy disjoint bits, so the sum is their bitwise OR.
    return (groups << shifts).sum(dim=1).to(torch.uint8)


def unpack_weights(uint8tensor, bits):
    """Bytes -> 8//bits codes per byte, lowest bits first; masks with 2**bits - 1."""
    per_byte = _check_bits(bits)
    _check_bytes(uint8tensor, "the packed tensor")
    shifts = torch.arange(per_byte, dtype=torch.int32) * bits
    codes = (uint8tensor.to(torch.int32)[:, None] >> shifts) & (2**bits - 1)
    return codes.reshape(-1).to(torch.uint8)
