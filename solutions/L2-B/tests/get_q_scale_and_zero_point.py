from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _scale_zero_point_compare(student, r, dtype):
    want_scale, want_zero_point = ref.get_q_scale_and_zero_point(r.clone(), dtype)
    got = checks.expect_tuple(student(r.clone(), dtype), 2, what="scale, zero_point")
    checks.expect_float(got[0], want_scale, what=f"scale ({dtype})", reveal=False)
    checks.expect_int(got[1], want_zero_point, what=f"zero point ({dtype})", reveal=False)


@test_case(name="hidden: mixed-sign random tensors, int8, uint8 and int16", points=1, hidden=True)
def hidden_scale_zero_point_mixed(get_q_scale_and_zero_point):
    g = torch.Generator().manual_seed(200)
    for dtype in (torch.int8, torch.uint8, torch.int16):
        r = torch.randn(16, 24, generator=g) * 3 + 0.5
        _scale_zero_point_compare(get_q_scale_and_zero_point, r, dtype)


@test_case(name="hidden: the zero point is rounded to the nearest integer", points=1, hidden=True)
def hidden_scale_zero_point_rounding(get_q_scale_and_zero_point):
    g = torch.Generator().manual_seed(201)
    for _ in range(6):
        r = torch.rand(8, 8, generator=g) * 4 - torch.rand(1, generator=g) * 3
        _scale_zero_point_compare(get_q_scale_and_zero_point, r, torch.int8)
        _scale_zero_point_compare(get_q_scale_and_zero_point, r, torch.uint8)


@test_case(name="hidden: negative-dominated ranges", points=1, hidden=True)
def hidden_scale_zero_point_negative(get_q_scale_and_zero_point):
    g = torch.Generator().manual_seed(202)
    for dtype in (torch.int8, torch.uint8, torch.int16):
        r = torch.rand(20, 20, generator=g) * 10 - 9.3
        _scale_zero_point_compare(get_q_scale_and_zero_point, r, dtype)


@test_case(name="hidden: one-sided ranges clip the zero point on both sides", points=1, hidden=True)
def hidden_scale_zero_point_clipping(get_q_scale_and_zero_point):
    g = torch.Generator().manual_seed(203)
    positive = torch.linspace(10, 20, 11)
    negative = -(torch.rand(6, 9, generator=g) * 5 + 1)
    for dtype in (torch.int8, torch.uint8, torch.int16):
        _scale_zero_point_compare(get_q_scale_and_zero_point, positive, dtype)
        _scale_zero_point_compare(get_q_scale_and_zero_point, negative, dtype)


@test_case(name="hidden: large tensors", points=1, hidden=True)
def hidden_scale_zero_point_large(get_q_scale_and_zero_point):
    g = torch.Generator().manual_seed(204)
    r = torch.randn(4, 128, 96, generator=g) * 0.7 - 0.2
    _scale_zero_point_compare(get_q_scale_and_zero_point, r, torch.int8)
    _scale_zero_point_compare(get_q_scale_and_zero_point, r, torch.uint8)
