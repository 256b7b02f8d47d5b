import torch
from otter.test_files import test_case

from quantlab import checks, fixtures

OK_FORMAT = False
name = "linear_q_symmetric"


def _public_per_tensor_check(got, r, want_q, want_scale, label):
    got = checks.expect_tuple(got, 2, what="quantized tensor, scale")
    checks.expect_float(got[1], want_scale, what=f"scale of {label} (one scale for the whole matrix: max |r| / q_max)")
    checks.expect_codes(
        got[0], want_q, what=f"quantized tensor of {label}", exact=r.double() / want_scale, scale=want_scale,
        hint="Per-tensor symmetric quantization: one scale, zero point 0, round, clamp, cast.",
    )


@test_case(name="course fixture: T per tensor", points=1)
def per_tensor_course_fixture(linear_q_symmetric):
    r = fixtures.T()
    want = torch.tensor([[33, -2, 127], [16, 52, -32], [0, 119, 43]], dtype=torch.int8)
    _public_per_tensor_check(linear_q_symmetric(r.clone()), r, want, 5.737007681779035, "T")


@test_case(name="weight matrix W per tensor", points=1)
def per_tensor_weight(linear_q_symmetric):
    r = fixtures.W()
    want = torch.tensor([[-118, -67, 25], [-89, 15, 96], [14, 80, 127]], dtype=torch.int8)
    _public_per_tensor_check(linear_q_symmetric(r.clone()), r, want, 0.016929134609192376, "W")


@test_case(name="-W: the largest magnitude is negative", points=1)
def per_tensor_negated_weight(linear_q_symmetric):
    r = -fixtures.W()
    want = torch.tensor([[118, 67, -25], [89, -15, -96], [-14, -80, -127]], dtype=torch.int8)
    _public_per_tensor_check(linear_q_symmetric(r.clone()), r, want, 0.016929134609192376, "-W")
