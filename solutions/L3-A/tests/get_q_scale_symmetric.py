from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _symmetric_scale_compare(student, r, dtype):
    want = ref.get_q_scale_symmetric(r.clone(), dtype)
    checks.expect_float(student(r.clone(), dtype), want, what=f"symmetric scale ({dtype})", reveal=False)


@test_case(name="hidden: random tensors, int8, uint8 and int16", points=1, hidden=True)
def hidden_symmetric_scale_dtypes(get_q_scale_symmetric):
    g = torch.Generator().manual_seed(300)
    for dtype in (torch.int8, torch.uint8, torch.int16):
        r = torch.randn(24, 24, generator=g) * 1.7
        _symmetric_scale_compare(get_q_scale_symmetric, r, dtype)


@test_case(name="hidden: negative-dominated tensors", points=1, hidden=True)
def hidden_symmetric_scale_negative(get_q_scale_symmetric):
    g = torch.Generator().manual_seed(301)
    for dtype in (torch.int8, torch.uint8, torch.int16):
        r = torch.rand(16, 16, generator=g) * 3 - 2.6
        _symmetric_scale_compare(get_q_scale_symmetric, r, dtype)


@test_case(name="hidden: one-sided tensors", points=1, hidden=True)
def hidden_symmetric_scale_one_sided(get_q_scale_symmetric):
    g = torch.Generator().manual_seed(302)
    positive = torch.rand(10, 30, generator=g) + 0.5
    _symmetric_scale_compare(get_q_scale_symmetric, positive, torch.int8)
    _symmetric_scale_compare(get_q_scale_symmetric, -positive, torch.int8)
    _symmetric_scale_compare(get_q_scale_symmetric, torch.linspace(10, 20, 11), torch.int16)


@test_case(name="hidden: tiny and huge magnitudes", points=1, hidden=True)
def hidden_symmetric_scale_magnitudes(get_q_scale_symmetric):
    g = torch.Generator().manual_seed(303)
    r = torch.randn(12, 12, generator=g)
    _symmetric_scale_compare(get_q_scale_symmetric, r * 1e-4, torch.int8)
    _symmetric_scale_compare(get_q_scale_symmetric, r * 3e4, torch.int8)


@test_case(name="hidden: large 3-D tensor", points=1, hidden=True)
def hidden_symmetric_scale_large(get_q_scale_symmetric):
    g = torch.Generator().manual_seed(304)
    r = torch.randn(8, 96, 128, generator=g) * 0.05
    _symmetric_scale_compare(get_q_scale_symmetric, r, torch.int8)
