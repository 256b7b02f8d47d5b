from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _dequantize_compare(student, q, scale, zero_point):
    want = ref.linear_dequantization(q.clone(), scale, zero_point)
    got = student(q.clone(), scale, zero_point)
    atol = 1e-6 * float(want.abs().max())
    checks.expect_close(
        got, want, what="dequantized tensor", rtol=1e-6, atol=atol, reveal=False,
        hint="Compute scale * (q.float() - zero_point): cast before subtracting.",
    )


def _codes(g, shape, dtype):
    info = torch.iinfo(dtype)
    q = torch.randint(info.min, info.max + 1, shape, generator=g, dtype=torch.int64)
    q.view(-1)[0], q.view(-1)[1] = info.min, info.max
    return q.to(dtype)


@test_case(name="hidden: int8 codes with zero points at both ends of the range", points=1, hidden=True)
def hidden_dequantize_int8_extreme_zero_points(linear_dequantization):
    g = torch.Generator().manual_seed(120)
    q = _codes(g, (32, 32), torch.int8)
    _dequantize_compare(linear_dequantization, q, 0.0317, -128)
    _dequantize_compare(linear_dequantization, q, 0.0317, 127)
    _dequantize_compare(linear_dequantization, q, 2.5, -7)


@test_case(name="hidden: uint8 codes", points=1, hidden=True)
def hidden_dequantize_uint8(linear_dequantization):
    g = torch.Generator().manual_seed(121)
    q = _codes(g, (24, 40), torch.uint8)
    _dequantize_compare(linear_dequantization, q, 0.0123, 0)
    _dequantize_compare(linear_dequantization, q, 0.0123, 200)
    _dequantize_compare(linear_dequantization, q, 7.0, 255)


@test_case(name="hidden: int16 codes", points=1, hidden=True)
def hidden_dequantize_int16(linear_dequantization):
    g = torch.Generator().manual_seed(122)
    q = _codes(g, (40, 40), torch.int16)
    _dequantize_compare(linear_dequantization, q, 3.1e-4, -1234)
    _dequantize_compare(linear_dequantization, q, 1.5, 32767)


@test_case(name="hidden: symmetric codes, tiny and large scales", points=1, hidden=True)
def hidden_dequantize_symmetric(linear_dequantization):
    g = torch.Generator().manual_seed(123)
    q = _codes(g, (16, 64), torch.int8)
    _dequantize_compare(linear_dequantization, q, 1.0e-5, 0)
    _dequantize_compare(linear_dequantization, q, 1234.5, 0)


@test_case(name="hidden: large 3-D tensor of int8 codes", points=1, hidden=True)
def hidden_dequantize_large(linear_dequantization):
    g = torch.Generator().manual_seed(124)
    q = _codes(g, (8, 128, 96), torch.int8)
    _dequantize_compare(linear_dequantization, q, 0.0213, -9)
