"""Mistakes of labs L5-B and L5-C: values packed or read highest bits first, wrong shifts, no mask."""

from __future__ import annotations

from quant_mistakes.course import dedent
from quant_mistakes.mistakes import Mistake

PACK = "pack_weights"
UNPACK = "unpack_weights"


def pack(shift: str) -> str:
    """The course's pack_weights, shifting value j of each byte by `shift`."""
    return dedent(
        f"""
        def pack_weights(uint8tensor, bits):
            if uint8tensor.shape[0] * bits % 8 != 0:
                raise ValueError(f"The input shape needs to be a mutiple of {{8 / bits}} - got {{uint8tensor.shape[0]}}")
            num_values = uint8tensor.shape[0] * bits // 8
            num_steps = 8 // bits
            unpacked_idx = 0
            packed_tensor = torch.zeros((num_values), dtype=torch.uint8)
            for i in range(num_values):
                for j in range(num_steps):
                    packed_tensor[i] |= uint8tensor[unpacked_idx] << ({shift})
                    unpacked_idx += 1
            return packed_tensor
        """
    )


def unpack(shift: str, *, mask: bool = True) -> str:
    """The course's unpack_weights, reading value j of each byte from `shift`, masked or not."""
    return dedent(
        f"""
        def unpack_weights(uint8tensor, bits):
            num_steps = 8 // bits
            unpacked_tensor = torch.zeros((uint8tensor.shape[0] * num_steps), dtype=torch.uint8)
            unpacked_idx = 0
            for i in range(uint8tensor.shape[0]):
                for j in range(num_steps):
                    unpacked_tensor[unpacked_idx] |= uint8tensor[i] >> ({shift})
                    unpacked_idx += 1
        """
    ) + ("    unpacked_tensor &= 2 ** bits - 1\n" if mask else "") + "    return unpacked_tensor\n"


MISTAKES = (
    Mistake(
        "pack_msb_first",
        functions={PACK: pack("bits * (num_steps - 1 - j)")},
        affects={"L5-B": (PACK,)},
    ),
    Mistake(
        "pack_wrong_shift",
        functions={PACK: pack("j")},
        affects={"L5-B": (PACK,)},
    ),
    Mistake(
        "pack_wrong_shift/constant",
        functions={PACK: pack("bits")},
        affects={"L5-B": (PACK,)},
    ),
    Mistake(
        "unpack_no_mask",
        functions={UNPACK: unpack("bits * j", mask=False)},
        affects={"L5-C": (UNPACK,)},
    ),
    Mistake(
        "unpack_msb_first",
        functions={UNPACK: unpack("bits * (num_steps - 1 - j)")},
        affects={"L5-C": (UNPACK,)},
    ),
)
