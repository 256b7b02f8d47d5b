import torch
from otter.test_files import test_case

from quantlab import checks, fixtures

OK_FORMAT = False
name = "linear_q_symmetric"


def _public_symmetric_check(got, r, want_q, want_scale, label):
    got = checks.expect_tuple(got, 2, what="quantized tensor, scale")
    checks.expect_float(got[1], want_scale, what=f"scale of {label}")
    checks.expect_codes(
        got[0], want_q, what=f"quantized tensor of {label}", exact=r.double() / want_scale, scale=want_scale,
        hint="Get the scale with get_q_scale_symmetric(tensor, dtype) and quantize with zero point 0 "
        "and the same dtype.",
    )


@test_case(name="course fixture: the lesson-5 tensor, int8", points=1)
def symmetric_course_fixture(linear_q_symmetric):
    r = fixtures.L3A_RANDOM()
    want = torch.tensor(
        [[3, 32, -30, -31], [-72, 35, -127, 127], [29, 15, 80, -111], [-23, -1, 62, 122]], dtype=torch.int8
    )
    _public_symmetric_check(linear_q_symmetric(r.clone()), r, want, 0.014545669705848994, "the lesson-5 tensor")


@test_case(name="T with dtype=torch.int16 (dtype is forwarded to the scale)", points=1)
def symmetric_int16(linear_q_symmetric):
    r = fixtures.T()
    want = torch.tensor([[8617, -607, 32767], [4144, 13289, -8275], [0, 30788, 11041]], dtype=torch.int16)
    _public_symmetric_check(linear_q_symmetric(r.clone(), torch.int16), r, want, 0.022235785259130756, "T for int16")


@test_case(name="the largest magnitude is negative: [-2.0, 1.0, 0.5]", points=1)
def symmetric_negative_max(linear_q_symmetric):
    r = torch.tensor([-2.0, 1.0, 0.5])
    want = torch.tensor([-127, 64, 32], dtype=torch.int8)
    _public_symmetric_check(linear_q_symmetric(r.clone()), r, want, 0.015748031496062992, "[-2.0, 1.0, 0.5]")
