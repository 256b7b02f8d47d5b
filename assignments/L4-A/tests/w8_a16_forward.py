import torch
from otter.test_files import test_case

from quantlab import checks

OK_FORMAT = False
name = "w8_a16_forward"

_HINT = (
    "Cast the int8 weights to the input's dtype, compute F.linear(input, weights), multiply by the "
    "scales (one per output feature), then add the bias if there is one."
)


def _course_codes():
    """int8 weights and scales of lesson 10: the course's W, quantized per row."""
    codes = torch.tensor([[-127, -72, 27], [-118, 20, 127], [14, 80, 127]], dtype=torch.int8)
    scales = torch.tensor([0.015748031437397003, 0.012755905278027058, 0.016929134726524353])
    return codes, scales


def _public_forward_check(w8_a16_forward, x, codes, scales, bias, label):
    got = w8_a16_forward(codes.clone(), x.clone(), scales.clone(), None if bias is None else bias.clone())
    checks.expect_w8a16_output(got, x, codes, scales, bias, what=f"output for {label}", hint=_HINT)


@test_case(name="course fixture: W's codes and scales, input [[1, 2, 3]], no bias", points=1)
def forward_course_fixture(w8_a16_forward):
    codes, scales = _course_codes()
    x = torch.tensor([[1.0, 2.0, 3.0]])
    got = w8_a16_forward(codes.clone(), x.clone(), scales.clone())
    # The course printed [[-2.9921, 3.8650, 9.3957]].
    checks.expect_w8a16_output(got, x, codes, scales, what="output for [[1, 2, 3]]", hint=_HINT)


@test_case(name="course fixture with the bias [[0.5, -0.5, 1.0]]", points=1)
def forward_course_fixture_bias(w8_a16_forward):
    codes, scales = _course_codes()
    # The course printed [[-2.4921, 3.3650, 10.3957]].
    _public_forward_check(w8_a16_forward, torch.tensor([[1.0, 2.0, 3.0]]), codes, scales,
                          torch.tensor([[0.5, -0.5, 1.0]]), "[[1, 2, 3]] with a bias")


@test_case(name="course fixture in bfloat16: the output is bfloat16", points=1)
def forward_course_fixture_bf16(w8_a16_forward):
    codes, scales = _course_codes()
    # The course printed tensor([[-2.9844, 3.8750, 9.4375]], dtype=torch.bfloat16).
    _public_forward_check(w8_a16_forward, torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.bfloat16), codes,
                          scales.to(torch.bfloat16), None, "[[1, 2, 3]] in bfloat16")


@test_case(name="a batch of token sequences: input (1, 6, 3) gives output (1, 6, 3)", points=1)
def forward_three_dimensional(w8_a16_forward):
    codes, scales = _course_codes()
    x = torch.arange(18, dtype=torch.float32).reshape(1, 6, 3) / 4 - 2
    _public_forward_check(
        w8_a16_forward, x, codes, scales, torch.tensor([[0.5, -0.5, 1.0]]), "an input of shape (1, 6, 3)",
    )
