from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _ground_truth(x, q_w, s_w, z_w):
    """The layer in float64: x @ (s (q - z))^T (docs/course.md §3.3)."""
    return x.double() @ (s_w * (q_w.double() - z_w)).T


def _w8a32_compare(student, x, q_w, s_w, z_w):
    want = _ground_truth(x, q_w, s_w, z_w)
    got = student(x.clone(), q_w.clone(), s_w, z_w)
    checks.expect_output(
        got, want, what=f"output ({tuple(x.shape)} input, {tuple(q_w.shape)} weight, zero point {z_w})",
        tol=1e-5, reveal=False,
    )


def _weights(g, out_features, in_features):
    return torch.randn(out_features, in_features, generator=g) / in_features ** 0.5


@test_case(name="hidden: random (out, in) weights quantized per tensor, batched inputs", points=1, hidden=True)
def hidden_w8a32_symmetric(quantized_linear_W8A32_without_bias):
    g = torch.Generator().manual_seed(900)
    for out_features, in_features in ((16, 32), (40, 24)):
        q_w, s_w = ref.linear_q_symmetric(_weights(g, out_features, in_features))
        _w8a32_compare(quantized_linear_W8A32_without_bias, torch.randn(5, in_features, generator=g), q_w, s_w, 0)


@test_case(name="hidden: 1-D and 3-D inputs", points=1, hidden=True)
def hidden_w8a32_input_shapes(quantized_linear_W8A32_without_bias):
    g = torch.Generator().manual_seed(901)
    q_w, s_w = ref.linear_q_symmetric(_weights(g, 12, 20))
    _w8a32_compare(quantized_linear_W8A32_without_bias, torch.randn(20, generator=g), q_w, s_w, 0)
    _w8a32_compare(quantized_linear_W8A32_without_bias, torch.randn(2, 7, 20, generator=g), q_w, s_w, 0)


@test_case(name="hidden: asymmetric weights with a non-zero zero point", points=1, hidden=True)
def hidden_w8a32_zero_point(quantized_linear_W8A32_without_bias):
    g = torch.Generator().manual_seed(902)
    for shift in (0.3, -0.4):
        q_w, s_w, z_w = ref.linear_quantization(_weights(g, 24, 16) + shift)
        _w8a32_compare(quantized_linear_W8A32_without_bias, torch.randn(6, 16, generator=g), q_w, s_w, z_w)


@test_case(name="hidden: one-signed weights (zero point at the end of the range)", points=1, hidden=True)
def hidden_w8a32_one_signed(quantized_linear_W8A32_without_bias):
    g = torch.Generator().manual_seed(903)
    q_w, s_w, z_w = ref.linear_quantization(torch.rand(10, 8, generator=g) + 0.5)
    _w8a32_compare(quantized_linear_W8A32_without_bias, torch.randn(3, 8, generator=g), q_w, s_w, z_w)
    q_w, s_w, z_w = ref.linear_quantization(-torch.rand(10, 8, generator=g) - 0.5)
    _w8a32_compare(quantized_linear_W8A32_without_bias, torch.randn(3, 8, generator=g), q_w, s_w, z_w)


@test_case(name="hidden: large (256, 512) layer, batch of 8", points=1, hidden=True)
def hidden_w8a32_large(quantized_linear_W8A32_without_bias):
    g = torch.Generator().manual_seed(904)
    q_w, s_w = ref.linear_q_symmetric(_weights(g, 256, 512))
    _w8a32_compare(quantized_linear_W8A32_without_bias, torch.randn(8, 512, generator=g), q_w, s_w, 0)
