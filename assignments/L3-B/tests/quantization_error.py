import torch
from otter.test_files import test_case

from quantlab import checks, fixtures

OK_FORMAT = False
name = "quantization_error"

_HINT = (
    "The quantization error is the mean squared error: the mean over all elements of "
    "(dequantized_tensor - tensor) squared, returned as a 0-d float32 tensor."
)


@test_case(name="L2-A fixture: T and its dequantization with scale 3.5, zero point -70", points=1)
def error_course_asymmetric(quantization_error):
    r = fixtures.T()
    dq = torch.tensor([[192.5, -14.0, 689.5], [91.0, 294.0, -185.5], [0.0, 686.0, 245.0]])
    got = quantization_error(r.clone(), dq.clone())
    checks.expect_close(got, torch.tensor(170.87530517578125), what="quantization error", rtol=1e-3, hint=_HINT)


@test_case(name="L3-B fixture: T and its per-tensor symmetric dequantization", points=1)
def error_course_per_tensor(quantization_error):
    r = fixtures.T()
    q = torch.tensor([[33, -2, 127], [16, 52, -32], [0, 119, 43]], dtype=torch.int8)
    dq = 5.737007681779035 * q.float()
    got = quantization_error(r.clone(), dq.clone())
    checks.expect_close(got, torch.tensor(2.5091912746429443), what="quantization error", rtol=1e-3, hint=_HINT)


@test_case(name="lesson-5 tensor and its symmetric dequantization", points=1)
def error_course_small(quantization_error):
    r = fixtures.L3A_RANDOM()
    q = torch.tensor(
        [[3, 32, -30, -31], [-72, 35, -127, 127], [29, 15, 80, -111], [-23, -1, 62, 122]], dtype=torch.int8
    )
    dq = 0.014545669705848994 * q.float()
    got = quantization_error(r.clone(), dq.clone())
    checks.expect_close(got, torch.tensor(1.0246125384583138e-05), what="quantization error", rtol=1e-3, hint=_HINT)
