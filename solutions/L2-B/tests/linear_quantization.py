from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _quantization_compare(student, r, dtype, exact_ties=False):
    want_q, want_scale, want_zero_point = ref.linear_quantization(r.clone(), dtype)
    got = checks.expect_tuple(student(r.clone(), dtype), 3, what="quantized tensor, scale, zero_point")
    checks.expect_float(got[1], want_scale, what=f"scale ({dtype})", reveal=False)
    checks.expect_int(got[2], want_zero_point, what=f"zero point ({dtype})", reveal=False)
    exact = None if exact_ties else r.double() / want_scale + want_zero_point
    checks.expect_codes(
        got[0], want_q, what=f"quantized tensor ({dtype})", exact=exact,
        scale=want_scale, zero_point=want_zero_point, reveal=False,
    )


def _tie_free(g, shape, scale, zero_point, dtype):
    """r = scale * (q - zero_point + u), |u| <= 0.45, spanning [q_min, q_max]: no code near a tie."""
    info = torch.iinfo(dtype)
    x = torch.randint(info.min, info.max + 1, shape, generator=g, dtype=torch.int64).double()
    x = (x + (torch.rand(shape, generator=g, dtype=torch.float64) - 0.5) * 0.9).clamp(info.min, info.max)
    x.view(-1)[0], x.view(-1)[1] = info.min, info.max
    return (scale * (x - zero_point)).float()


@test_case(name="hidden: mixed-sign random tensors, int8 and uint8", points=1, hidden=True)
def hidden_quantization_mixed(linear_quantization):
    g = torch.Generator().manual_seed(210)
    for dtype in (torch.int8, torch.uint8):
        r = torch.randn(32, 48, generator=g) * 2 + 0.3
        _quantization_compare(linear_quantization, r, dtype)


@test_case(name="hidden: int16 over the whole code range", points=1, hidden=True)
def hidden_quantization_int16(linear_quantization):
    g = torch.Generator().manual_seed(211)
    r = _tie_free(g, (48, 40), 0.0007, 1234, torch.int16)
    _quantization_compare(linear_quantization, r, torch.int16)


@test_case(name="hidden: one-sided ranges clip the zero point on both sides", points=1, hidden=True)
def hidden_quantization_clipping(linear_quantization):
    g = torch.Generator().manual_seed(212)
    positive = torch.linspace(10, 20, 11)
    negative = -(torch.rand(6, 9, generator=g) * 5 + 1)
    for dtype in (torch.int8, torch.uint8, torch.int16):
        _quantization_compare(linear_quantization, positive, dtype)
        _quantization_compare(linear_quantization, negative, dtype)


@test_case(name="hidden: exact ties with a power-of-two scale and an odd zero point", points=1, hidden=True)
def hidden_quantization_exact_ties(linear_quantization):
    # r_min = -63.5, r_max = 64: scale 0.5 exactly, zero point -1 (int8) or 127 (uint8).
    r = torch.tensor([-63.5, 64.0, 0.25, 0.75, 1.25, -0.25, -0.75, 10.25, -20.75, 33.25])
    _quantization_compare(linear_quantization, r, torch.int8, exact_ties=True)
    _quantization_compare(linear_quantization, r, torch.uint8, exact_ties=True)
    # int16: scale 2**-9, zero point -1; odd multiples of 2**-10 fall on ties.
    r = torch.tensor([-32767.0, 32768.0, 1.0, 3.0, -1.0, -5.0, 1001.0, -3001.0, 20001.0]) / 512
    r[2:] /= 2
    _quantization_compare(linear_quantization, r, torch.int16, exact_ties=True)


@test_case(name="hidden: large negative-dominated 3-D tensor", points=1, hidden=True)
def hidden_quantization_large(linear_quantization):
    g = torch.Generator().manual_seed(214)
    r = torch.randn(6, 96, 128, generator=g) - 1.5
    _quantization_compare(linear_quantization, r, torch.int8)
