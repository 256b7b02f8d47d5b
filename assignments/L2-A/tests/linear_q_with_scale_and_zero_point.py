import torch
from otter.test_files import test_case

from quantlab import checks, fixtures

OK_FORMAT = False
name = "linear_q_with_scale_and_zero_point"


@test_case(name="course fixture: T with scale 3.5 and zero point -70", points=1)
def course_fixture(linear_q_with_scale_and_zero_point):
    got = linear_q_with_scale_and_zero_point(fixtures.T(), 3.5, -70)
    want = torch.tensor([[-15, -74, 127], [-44, 14, -123], [-70, 126, 0]], dtype=torch.int8)
    checks.expect_codes(
        got, want, scale=3.5, zero_point=-70,
        hint="Divide by the scale, add the zero point, round with torch.round, clamp to "
        "[q_min, q_max], and only then cast with .to(dtype).",
    )


@test_case(name="exact ties round half to even: scale 0.5, zero point 0", points=1)
def ties_to_even(linear_q_with_scale_and_zero_point):
    r = torch.tensor([0.25, 0.75, 1.25, -0.25, -0.75])
    got = linear_q_with_scale_and_zero_point(r, 0.5, 0)
    want = torch.tensor([0, 2, 2, 0, -2], dtype=torch.int8)
    checks.expect_codes(
        got, want, scale=0.5,
        hint="torch.round rounds exact halves to the nearest even number (0.5 -> 0, 1.5 -> 2).",
    )
