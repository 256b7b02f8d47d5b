import torch
from otter.test_files import test_case

from quantlab import checks

OK_FORMAT = False
name = "unpack_weights"

_HINT = (
    "Each byte gives k = 8 // bits values, lowest bits first: value j is (byte >> (bits*j)) & (2**bits - 1). "
    "The mask keeps only the low `bits` bits; without it the higher values of the byte come along."
)


def _bytes(values):
    return torch.tensor(values, dtype=torch.uint8)


def _public_unpack_check(got, want, label):
    checks.expect_bytes(got, _bytes(want), what=f"unpacked tensor of {label}", hint=_HINT)


@test_case(name="course fixtures, 2-bit: [177] and [177, 255]", points=1)
def unpack_course_2bit(unpack_weights):
    _public_unpack_check(unpack_weights(_bytes([177]), 2), [1, 0, 3, 2], "[177] in 2 bits")
    _public_unpack_check(unpack_weights(_bytes([177, 255]), 2), [1, 0, 3, 2, 3, 3, 3, 3], "[177, 255] in 2 bits")


@test_case(name="4-bit: [241, 7] and [16, 50, 84, 118]", points=1)
def unpack_4bit(unpack_weights):
    _public_unpack_check(unpack_weights(_bytes([241, 7]), 4), [1, 15, 7, 0], "[241, 7] in 4 bits")
    _public_unpack_check(unpack_weights(_bytes([16, 50, 84, 118]), 4), list(range(8)), "[16, 50, 84, 118] in 4 bits")
