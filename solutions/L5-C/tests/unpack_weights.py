from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _unpack_compare(student, packed, bits):
    want = ref.unpack_weights(packed.clone(), bits)
    checks.expect_bytes(
        student(packed.clone(), bits), want, what=f"unpacked tensor ({packed.numel()} bytes, {bits} bits)",
        reveal=False,
    )


@test_case(name="hidden: every byte value, 2-bit and 4-bit", points=1, hidden=True)
def hidden_unpack_every_byte(unpack_weights):
    packed = torch.arange(256, dtype=torch.uint8)
    _unpack_compare(unpack_weights, packed, 2)
    _unpack_compare(unpack_weights, packed, 4)


@test_case(name="hidden: random bytes of several lengths", points=1, hidden=True)
def hidden_unpack_random(unpack_weights):
    g = torch.Generator().manual_seed(1600)
    for bits in (2, 4):
        for length in (1, 3, 64):
            _unpack_compare(unpack_weights, torch.randint(0, 256, (length,), generator=g, dtype=torch.uint8), bits)


@test_case(name="hidden: round trip, unpack(pack(codes)) gives the codes back", points=1, hidden=True)
def hidden_unpack_round_trip(unpack_weights):
    g = torch.Generator().manual_seed(1601)
    for bits, length in ((2, 4), (2, 128), (4, 2), (4, 100)):
        codes = torch.randint(0, 2**bits, (length,), generator=g, dtype=torch.uint8)
        checks.expect_bytes(
            unpack_weights(ref.pack_weights(codes.clone(), bits), bits), codes,
            what=f"round trip of {length} random {bits}-bit codes", reveal=False,
        )
