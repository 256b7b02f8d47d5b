from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _symmetric_compare(student, r, dtype, exact_ties=False):
    want_q, want_scale = ref.linear_q_symmetric(r.clone(), dtype)
    got = checks.expect_tuple(student(r.clone(), dtype), 2, what="quantized tensor, scale")
    checks.expect_float(got[1], want_scale, what=f"scale ({dtype})", reveal=False)
    exact = None if exact_ties else r.double() / want_scale
    checks.expect_codes(got[0], want_q, what=f"quantized tensor ({dtype})", exact=exact, scale=want_scale, reveal=False)


def _tie_free_symmetric(g, shape, scale, dtype):
    """r = scale * (q + u), |u| <= 0.45, with max |r| = scale * q_max: no code near a tie."""
    q_max = torch.iinfo(dtype).max
    x = torch.randint(-q_max + 1, q_max, shape, generator=g, dtype=torch.int64).double()
    x = x + (torch.rand(shape, generator=g, dtype=torch.float64) - 0.5) * 0.9
    x.view(-1)[0], x.view(-1)[1] = q_max, -q_max
    return (scale * x).float()


@test_case(name="hidden: mixed-sign random tensor, int8", points=1, hidden=True)
def hidden_symmetric_int8(linear_q_symmetric):
    g = torch.Generator().manual_seed(310)
    r = torch.randn(48, 64, generator=g) * 0.8
    _symmetric_compare(linear_q_symmetric, r, torch.int8)


@test_case(name="hidden: int16 over the whole code range, and uint8", points=1, hidden=True)
def hidden_symmetric_other_dtypes(linear_q_symmetric):
    g = torch.Generator().manual_seed(311)
    _symmetric_compare(linear_q_symmetric, _tie_free_symmetric(g, (40, 48), 0.00013, torch.int16), torch.int16)
    _symmetric_compare(linear_q_symmetric, torch.rand(32, 32, generator=g) * 6, torch.uint8)


@test_case(name="hidden: negative-dominated and one-sided tensors", points=1, hidden=True)
def hidden_symmetric_negative(linear_q_symmetric):
    g = torch.Generator().manual_seed(312)
    _symmetric_compare(linear_q_symmetric, torch.rand(20, 30, generator=g) * 5 - 4.2, torch.int8)
    _symmetric_compare(linear_q_symmetric, -(torch.rand(20, 30, generator=g) + 0.1), torch.int8)
    _symmetric_compare(linear_q_symmetric, torch.linspace(10, 20, 11), torch.int8)


@test_case(name="hidden: exact ties with a power-of-two scale", points=1, hidden=True)
def hidden_symmetric_exact_ties(linear_q_symmetric):
    # max |r| = 63.5: scale 0.5 exactly; r / scale hits .5 on every other element.
    r = torch.tensor([63.5, 0.25, 0.75, 1.25, 2.25, -0.25, -1.25, -2.75, 10.75, -63.0])
    _symmetric_compare(linear_q_symmetric, r, torch.int8, exact_ties=True)
    # uint8: max 127.5, scale 0.5.
    r = torch.tensor([127.5, 0.25, 1.25, 2.25, 4.75, 100.25, 0.0])
    _symmetric_compare(linear_q_symmetric, r, torch.uint8, exact_ties=True)
    # int16: max |r| = 32767 / 512, scale 2**-9; odd multiples of 2**-10 fall on ties.
    r = torch.tensor([-32767.0, 1.0, 3.0, 5.0, -1.0, -7.0, 2001.0, -4001.0]) / 1024
    r[0] *= 2
    _symmetric_compare(linear_q_symmetric, r, torch.int16, exact_ties=True)


@test_case(name="hidden: large 3-D tensor", points=1, hidden=True)
def hidden_symmetric_large(linear_q_symmetric):
    g = torch.Generator().manual_seed(314)
    r = torch.randn(8, 96, 128, generator=g) * 0.3
    _symmetric_compare(linear_q_symmetric, r, torch.int8)
