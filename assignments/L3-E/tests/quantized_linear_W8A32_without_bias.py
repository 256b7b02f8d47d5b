import torch
from otter.test_files import test_case

from quantlab import checks

OK_FORMAT = False
name = "quantized_linear_W8A32_without_bias"

_HINT = (
    "Dequantize the weight first, s_w * (q_w.float() - z_w), then apply it as a linear layer: "
    "torch.nn.functional.linear(input, dequantized_weight) computes input @ weight.T."
)
# linear_q_symmetric(W): the codes and scale of the course's weight, zero point 0.
_Q_W = [[-118, -67, 25], [-89, 15, 96], [14, 80, 127]]
_S_W = 0.016929134609192376


def _public_output_check(got, want, label):
    checks.expect_output(got, torch.tensor(want, dtype=torch.float64), what=f"output for {label}", tol=1e-5, hint=_HINT)


@test_case(name="course fixture: W quantized per tensor, input [1, 2, 3]", points=1)
def w8a32_course_fixture(quantized_linear_W8A32_without_bias):
    got = quantized_linear_W8A32_without_bias(
        torch.tensor([1.0, 2.0, 3.0]), torch.tensor(_Q_W, dtype=torch.int8), _S_W, 0,
    )
    _public_output_check(got, [-2.9964568258270505, 3.876771825505054, 9.395669708101767], "input [1, 2, 3]")


@test_case(name="a batch of two inputs", points=1)
def w8a32_batch(quantized_linear_W8A32_without_bias):
    x = torch.tensor([[1.0, 2.0, 3.0], [-0.5, 4.0, 1.5]])
    got = quantized_linear_W8A32_without_bias(x, torch.tensor(_Q_W, dtype=torch.int8), _S_W, 0)
    _public_output_check(
        got, [[-2.9964568258270505, 3.876771825505054, 9.395669708101767],
              [-2.9033465854764926, 4.206889950384305, 8.52381927572836]], "a batch of two inputs",
    )


@test_case(name="W quantized asymmetrically: zero point -5, dequantized as s * (q - z)", points=1)
def w8a32_zero_point(quantized_linear_W8A32_without_bias):
    # linear_quantization(W): scale 0.016274510177911497, zero point -5.
    q_w = torch.tensor([[-128, -74, 21], [-98, 10, 95], [9, 78, 127]], dtype=torch.int8)
    x = torch.tensor([[1.0, 2.0, 3.0], [-0.5, 4.0, 1.5]])
    got = quantized_linear_W8A32_without_bias(x, q_w, 0.016274510177911497, -5)
    _public_output_check(
        got, [[-2.9782353625578044, 3.8570589121650247, 9.374117862477021],
              [-2.856176536223468, 4.174411860634299, 8.511568823047714]], "zero point -5",
    )
