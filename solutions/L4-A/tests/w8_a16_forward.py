from otter.test_files import test_case
import torch
from quantlab import checks
import quant_reference as ref


def _random_layer(g, out_features, in_features, dtype, bias=True):
    weights = torch.randn(out_features, in_features, generator=g) / in_features ** 0.5
    scales, codes = ref.layers.per_row_scales_and_codes(weights.to(dtype))
    b = (torch.randn(1, out_features, generator=g) * 0.1).to(dtype) if bias else None
    return codes, scales, b


def _forward_compare(student, x, codes, scales, bias, label):
    got = student(codes.clone(), x.clone(), scales.clone(), None if bias is None else bias.clone())
    checks.expect_w8a16_output(got, x, codes, scales, bias, what=f"output ({label})", reveal=False)


@test_case(name="hidden: float32, random (64, 48) layer, with and without a bias", points=1, hidden=True)
def hidden_forward_float32(w8_a16_forward):
    g = torch.Generator().manual_seed(1000)
    codes, scales, bias = _random_layer(g, 64, 48, torch.float32)
    x = torch.randn(4, 48, generator=g)
    _forward_compare(w8_a16_forward, x, codes, scales, bias, "float32 with a bias")
    _forward_compare(w8_a16_forward, x, codes, scales, None, "float32 without a bias")


@test_case(name="hidden: float16 activations, scales and bias", points=1, hidden=True)
def hidden_forward_float16(w8_a16_forward):
    g = torch.Generator().manual_seed(1001)
    codes, scales, bias = _random_layer(g, 32, 64, torch.float16)
    x = torch.randn(2, 5, 64, generator=g).to(torch.float16)
    _forward_compare(w8_a16_forward, x, codes, scales, bias, "float16")


@test_case(name="hidden: bfloat16 activations, scales and bias", points=1, hidden=True)
def hidden_forward_bfloat16(w8_a16_forward):
    g = torch.Generator().manual_seed(1002)
    codes, scales, bias = _random_layer(g, 48, 32, torch.bfloat16)
    x = torch.randn(3, 7, 32, generator=g).to(torch.bfloat16)
    _forward_compare(w8_a16_forward, x, codes, scales, bias, "bfloat16")
    _forward_compare(w8_a16_forward, x, codes, scales, None, "bfloat16 without a bias")


@test_case(name="hidden: output dtype follows torch's promotion (bfloat16 input, float32 scales)",
           points=1, hidden=True)
def hidden_forward_mixed_dtypes(w8_a16_forward):
    g = torch.Generator().manual_seed(1003)
    codes, scales, bias = _random_layer(g, 16, 24, torch.float32)
    x = torch.randn(2, 24, generator=g).to(torch.bfloat16)
    _forward_compare(w8_a16_forward, x, codes, scales, bias, "bfloat16 input, float32 scales and bias")


@test_case(name="hidden: a bias changes every output row by itself, after the scales", points=1, hidden=True)
def hidden_forward_bias_after_scale(w8_a16_forward):
    g = torch.Generator().manual_seed(1004)
    codes, scales, _ = _random_layer(g, 8, 16, torch.float32)
    x = torch.randn(5, 16, generator=g)
    bias = torch.linspace(-3, 3, 8).reshape(1, 8)
    _forward_compare(w8_a16_forward, x, codes, scales, bias, "a large bias")
