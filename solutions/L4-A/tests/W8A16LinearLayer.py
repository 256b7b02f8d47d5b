from otter.test_files import test_case
import torch
from quantlab.layer_findings import expect_layer, layer_findings
import quant_reference as ref


def _layer_compare(student, in_features, out_features, bias, dtype, weights, inputs=(), bias_values=None):
    label = f"W8A16LinearLayer({in_features}, {out_features}, {bias}" + (f", {dtype})" if dtype else ")")
    kwargs = {"weights": weights, "inputs": inputs, "bias_values": bias_values}
    want = layer_findings(ref.W8A16LinearLayer, in_features, out_features, bias, dtype, **kwargs)
    got = layer_findings(student, in_features, out_features, bias, dtype, **kwargs)
    expect_layer(got, want, call=label, weights=weights, inputs=inputs, bias_values=bias_values, reveal=False)


def _weights(g, out_features, in_features, dtype=torch.float32):
    return (torch.randn(out_features, in_features, generator=g) / in_features ** 0.5).to(dtype)


@test_case(name="hidden: float32 (48, 64) layer: codes, scales, buffers and forward with a bias", points=1, hidden=True)
def hidden_layer_float32(W8A16LinearLayer):
    g = torch.Generator().manual_seed(1100)
    w = _weights(g, 48, 64)
    bias = torch.randn(1, 48, generator=g) * 0.1
    _layer_compare(W8A16LinearLayer, 64, 48, True, torch.float32, w,
                   inputs=[torch.randn(4, 64, generator=g), torch.randn(2, 3, 64, generator=g)], bias_values=bias)


@test_case(name="hidden: bfloat16 weights: codes from a float32 division, clamped", points=1, hidden=True)
def hidden_layer_bfloat16(W8A16LinearLayer):
    g = torch.Generator().manual_seed(1101)
    w = _weights(g, 64, 32, torch.bfloat16)
    _layer_compare(W8A16LinearLayer, 32, 64, False, torch.bfloat16, w,
                   inputs=[torch.randn(3, 32, generator=g).to(torch.bfloat16)])


@test_case(name="hidden: float16 weights and activations", points=1, hidden=True)
def hidden_layer_float16(W8A16LinearLayer):
    g = torch.Generator().manual_seed(1102)
    w = _weights(g, 24, 40, torch.float16)
    bias = (torch.randn(1, 24, generator=g) * 0.1).to(torch.float16)
    _layer_compare(W8A16LinearLayer, 40, 24, True, torch.float16, w,
                   inputs=[torch.randn(5, 40, generator=g).to(torch.float16)], bias_values=bias)


@test_case(name="hidden: non-square layers keep (out_features, in_features) and the default dtype",
           points=1, hidden=True)
def hidden_layer_shapes(W8A16LinearLayer):
    g = torch.Generator().manual_seed(1103)
    _layer_compare(W8A16LinearLayer, 7, 5, True, None, _weights(g, 5, 7))
    _layer_compare(W8A16LinearLayer, 5, 7, False, torch.bfloat16, _weights(g, 7, 5, torch.bfloat16))


@test_case(name="hidden: rows with outliers, and a row whose scale is exactly 1", points=1, hidden=True)
def hidden_layer_outliers(W8A16LinearLayer):
    g = torch.Generator().manual_seed(1104)
    w = _weights(g, 16, 32)
    w[3, 7], w[9, 0] = 4.0, -6.5
    # Row 0: max |w| = 127 gives scale 1 exactly, the codes are the rounded values themselves.
    w[0] = torch.tensor([127.0, -0.5, 1.5, 2.5, -3.5] + [0.25] * 27)
    _layer_compare(W8A16LinearLayer, 32, 16, False, torch.float32, w, inputs=[torch.randn(2, 32, generator=g)])
