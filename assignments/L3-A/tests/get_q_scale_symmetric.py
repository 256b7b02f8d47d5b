import torch
from otter.test_files import test_case

from quantlab import checks, fixtures

OK_FORMAT = False
name = "get_q_scale_symmetric"


@test_case(name="course fixtures: the lesson-5 tensor, T and W, int8", points=1)
def symmetric_scale_course(get_q_scale_symmetric):
    checks.expect_float(
        get_q_scale_symmetric(fixtures.L3A_RANDOM()), 0.014545669705848994, what="scale of the lesson-5 tensor",
    )
    checks.expect_float(
        get_q_scale_symmetric(fixtures.T()), 5.737007681779035,
        what="scale of T (728.6 / 127: max |r| divided by q_max)",
    )
    checks.expect_float(get_q_scale_symmetric(fixtures.W()), 0.016929134609192376, what="scale of W")


@test_case(name="T with dtype=torch.int16", points=1)
def symmetric_scale_int16(get_q_scale_symmetric):
    checks.expect_float(
        get_q_scale_symmetric(fixtures.T(), torch.int16), 0.022235785259130756,
        what="scale of T for int16 (728.6 / 32767: q_max comes from torch.iinfo(dtype))",
    )


@test_case(name="the largest magnitude is negative: [-2.0, 1.0, 0.5]", points=1)
def symmetric_scale_negative_max(get_q_scale_symmetric):
    checks.expect_float(
        get_q_scale_symmetric(torch.tensor([-2.0, 1.0, 0.5])), 0.015748031496062992,
        what="scale of [-2.0, 1.0, 0.5] (the largest absolute value is 2.0)",
    )
