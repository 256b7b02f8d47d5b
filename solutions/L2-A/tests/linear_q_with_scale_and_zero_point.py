from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _compare(student, r, scale, zero_point, dtype, exact_ties=False):
    want = ref.linear_q_with_scale_and_zero_point(r.clone(), scale, zero_point, dtype)
    got = student(r.clone(), scale, zero_point, dtype)
    exact = None if exact_ties else r.double() / scale + zero_point
    checks.expect_codes(got, want, exact=exact, scale=scale, zero_point=zero_point, reveal=False)


@test_case(name="hidden: random 64x64 tensor, int8", points=1, hidden=True)
def hidden_random_int8(linear_q_with_scale_and_zero_point):
    g = torch.Generator().manual_seed(20)
    r = torch.randn(64, 64, generator=g) * 3
    _compare(linear_q_with_scale_and_zero_point, r, 0.037, 5, torch.int8)


@test_case(name="hidden: uint8 and int16 ranges", points=1, hidden=True)
def hidden_other_dtypes(linear_q_with_scale_and_zero_point):
    g = torch.Generator().manual_seed(21)
    r = torch.rand(32, 48, generator=g) * 10 - 2
    _compare(linear_q_with_scale_and_zero_point, r, 0.045, 40, torch.uint8)
    r = torch.randn(40, 40, generator=g) * 1000
    _compare(linear_q_with_scale_and_zero_point, r, 0.09, -17, torch.int16)


@test_case(name="hidden: values beyond both ends are clamped", points=1, hidden=True)
def hidden_clamp(linear_q_with_scale_and_zero_point):
    g = torch.Generator().manual_seed(22)
    r = torch.randn(16, 16, generator=g) * 50
    _compare(linear_q_with_scale_and_zero_point, r, 0.2, -3, torch.int8)
    _compare(linear_q_with_scale_and_zero_point, r, 0.2, 100, torch.uint8)


@test_case(name="hidden: exact ties with an odd zero point", points=1, hidden=True)
def hidden_exact_ties(linear_q_with_scale_and_zero_point):
    r = torch.tensor([0.25, 0.75, 1.25, -0.25, -0.75, 2.25, -1.75, 10.25])
    _compare(linear_q_with_scale_and_zero_point, r, 0.5, 1, torch.int8, exact_ties=True)
    _compare(linear_q_with_scale_and_zero_point, r * 4, 2.0, -3, torch.int8, exact_ties=True)


@test_case(name="hidden: large 3-D tensor", points=1, hidden=True)
def hidden_large(linear_q_with_scale_and_zero_point):
    g = torch.Generator().manual_seed(23)
    r = torch.randn(8, 128, 96, generator=g)
    _compare(linear_q_with_scale_and_zero_point, r, 0.0213, -9, torch.int8)
