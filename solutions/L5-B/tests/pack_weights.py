from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _pack_compare(student, codes, bits):
    want = ref.pack_weights(codes.clone(), bits)
    checks.expect_bytes(
        student(codes.clone(), bits), want, what=f"packed tensor ({codes.numel()} values, {bits} bits)", reveal=False,
    )


@test_case(name="hidden: random 2-bit codes of several lengths", points=1, hidden=True)
def hidden_pack_2bit(pack_weights):
    g = torch.Generator().manual_seed(1500)
    for length in (4, 8, 36, 256):
        _pack_compare(pack_weights, torch.randint(0, 4, (length,), generator=g, dtype=torch.uint8), 2)


@test_case(name="hidden: random 4-bit codes of several lengths", points=1, hidden=True)
def hidden_pack_4bit(pack_weights):
    g = torch.Generator().manual_seed(1501)
    for length in (2, 6, 50, 256):
        _pack_compare(pack_weights, torch.randint(0, 16, (length,), generator=g, dtype=torch.uint8), 4)


@test_case(name="hidden: every value in every slot of a byte", points=1, hidden=True)
def hidden_pack_every_slot(pack_weights):
    for bits in (2, 4):
        per_byte = 8 // bits
        values = torch.arange(2**bits, dtype=torch.uint8)
        # each value once in each slot, zeros elsewhere: a value shifted to the wrong place shows
        blocks = []
        for slot in range(per_byte):
            block = torch.zeros(2**bits * per_byte, dtype=torch.uint8)
            block[slot::per_byte] = values
            blocks.append(block)
        _pack_compare(pack_weights, torch.cat(blocks), bits)
        _pack_compare(pack_weights, torch.full((8,), 2**bits - 1, dtype=torch.uint8), bits)


@test_case(name="hidden: lengths that are not a multiple of 8 // bits raise ValueError", points=1, hidden=True)
def hidden_pack_bad_lengths(pack_weights):
    for bits, length in ((2, 1), (2, 5), (2, 7), (2, 10), (4, 1), (4, 9)):
        with checks.expect_raises(ValueError, what=f"pack_weights of {length} values in {bits} bits"):
            pack_weights(torch.ones(length, dtype=torch.uint8), bits)
