import torch
from otter.test_files import test_case

from quantlab import checks

OK_FORMAT = False
name = "pack_weights"

_HINT = (
    "With k = 8 // bits values per byte, byte i holds values i*k ... i*k+k-1, and value j of the byte "
    "is shifted left by bits*j: the first value lands in the lowest bits. [1, 0, 3, 2] in 2 bits is "
    "0b10_11_00_01 = 177."
)


def _codes(values):
    return torch.tensor(values, dtype=torch.uint8)


def _public_pack_check(got, want, label):
    checks.expect_bytes(got, _codes(want), what=f"packed tensor of {label}", hint=_HINT)


@test_case(name="course fixtures, 2-bit: [1, 0, 3, 2] and [1, 0, 3, 2, 3, 3, 3, 3]", points=1)
def pack_course_2bit(pack_weights):
    _public_pack_check(pack_weights(_codes([1, 0, 3, 2]), 2), [177], "[1, 0, 3, 2] in 2 bits")
    _public_pack_check(
        pack_weights(_codes([1, 0, 3, 2, 3, 3, 3, 3]), 2), [177, 255], "[1, 0, 3, 2, 3, 3, 3, 3] in 2 bits",
    )


@test_case(name="4-bit: [1, 15, 7, 0] and [0, 1, ..., 7]", points=1)
def pack_4bit(pack_weights):
    _public_pack_check(pack_weights(_codes([1, 15, 7, 0]), 4), [241, 7], "[1, 15, 7, 0] in 4 bits")
    _public_pack_check(pack_weights(_codes(list(range(8))), 4), [16, 50, 84, 118], "[0, 1, ..., 7] in 4 bits")


@test_case(name="a length that is not a multiple of 8 // bits raises ValueError", points=1)
def pack_bad_length(pack_weights):
    with checks.expect_raises(ValueError, what="pack_weights of 3 values in 2 bits (4 fit in a byte)"):
        pack_weights(_codes([1, 0, 3]), 2)
