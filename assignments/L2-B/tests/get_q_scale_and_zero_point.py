import torch
from otter.test_files import test_case

from quantlab import checks, fixtures

OK_FORMAT = False
name = "get_q_scale_and_zero_point"


@test_case(name="course fixtures: T and the lesson-4 tensor, int8", points=1)
def scale_zero_point_course_int8(get_q_scale_and_zero_point):
    got = checks.expect_tuple(get_q_scale_and_zero_point(fixtures.T()), 2, what="scale, zero_point")
    checks.expect_float(got[0], 3.578823433670343, what="scale of T")
    checks.expect_int(got[1], -77, what="zero point of T (raw value -76.586..., rounded to the nearest integer)")
    got = checks.expect_tuple(get_q_scale_and_zero_point(fixtures.L2B_RANDOM()), 2, what="scale, zero_point")
    checks.expect_float(got[0], 0.01609490151498832, what="scale of the lesson-4 tensor")
    checks.expect_int(got[1], -21, what="zero point of the lesson-4 tensor")


@test_case(name="T with dtype=torch.uint8", points=1)
def scale_zero_point_uint8(get_q_scale_and_zero_point):
    got = checks.expect_tuple(get_q_scale_and_zero_point(fixtures.T(), torch.uint8), 2, what="scale, zero_point")
    checks.expect_float(got[0], 3.578823433670343, what="scale of T for uint8")
    checks.expect_int(
        got[1], 51,
        what="zero point of T for uint8 (q_min and q_max must come from torch.iinfo(dtype))",
    )


@test_case(name="negative-only tensor N: the zero point is clipped to q_max", points=1)
def scale_zero_point_clipped(get_q_scale_and_zero_point):
    got = checks.expect_tuple(get_q_scale_and_zero_point(fixtures.N()), 2, what="scale, zero_point")
    checks.expect_float(got[0], 2.9411764705882355, what="scale of N")
    checks.expect_int(
        got[1], 127,
        what="zero point of N (raw value 212.0 is above q_max, so it becomes q_max)",
    )
    got = checks.expect_tuple(get_q_scale_and_zero_point(fixtures.N(), torch.uint8), 2, what="scale, zero_point")
    checks.expect_int(got[1], 255, what="zero point of N for uint8 (clipped to q_max)")
