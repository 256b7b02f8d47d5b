import torch
from otter.test_files import test_case

from quantlab import checks, fixtures

OK_FORMAT = False
name = "linear_quantization"


def _public_check(got, r, want_q, want_scale, want_zero_point, label):
    got = checks.expect_tuple(got, 3, what="quantized tensor, scale, zero_point")
    checks.expect_float(got[1], want_scale, what=f"scale of {label}")
    checks.expect_int(got[2], want_zero_point, what=f"zero point of {label}")
    checks.expect_codes(
        got[0], want_q, what=f"quantized tensor of {label}",
        exact=r.double() / want_scale + want_zero_point, scale=want_scale, zero_point=want_zero_point,
        hint="Get the scale and zero point with get_q_scale_and_zero_point(tensor, dtype), then "
        "quantize with linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype).",
    )


@test_case(name="course fixtures: T and the lesson-4 tensor, int8", points=1)
def quantization_course_int8(linear_quantization):
    r = fixtures.T()
    want = torch.tensor([[-23, -81, 127], [-51, 6, -128], [-77, 114, -8]], dtype=torch.int8)
    _public_check(linear_quantization(r.clone()), r, want, 3.578823433670343, -77, "T")
    r = fixtures.L2B_RANDOM()
    want = torch.tensor(
        [[21, -94, 7, 69], [127, -47, 26, 52], [35, -19, -62, -17], [68, 21, -128, -68]], dtype=torch.int8
    )
    _public_check(linear_quantization(r.clone()), r, want, 0.01609490151498832, -21, "the lesson-4 tensor")


@test_case(name="T with dtype=torch.uint8", points=1)
def quantization_uint8(linear_quantization):
    r = fixtures.T()
    want = torch.tensor([[105, 47, 255], [77, 134, 0], [51, 242, 120]], dtype=torch.uint8)
    _public_check(linear_quantization(r.clone(), torch.uint8), r, want, 3.578823433670343, 51, "T for uint8")


@test_case(name="negative-only tensor N: clipped zero point, clamped codes", points=1)
def quantization_clipped(linear_quantization):
    r = fixtures.N()
    want = torch.tensor([[42, -43], [-128, -128]], dtype=torch.int8)
    _public_check(linear_quantization(r.clone()), r, want, 2.9411764705882355, 127, "N")
