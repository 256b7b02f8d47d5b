import torch
from otter.test_files import test_case

from quantlab import checks, fixtures
from quantlab.layer_findings import expect_layer, layer_findings

OK_FORMAT = False
name = "W8A16LinearLayer"

_W_CODES = torch.tensor([[-127, -72, 27], [-118, 20, 127], [14, 80, 127]], dtype=torch.int8)
_W_SCALES = [0.015748031437397003, 0.012755905278027058, 0.016929134726524353]


def _table(**entries):
    return {name: [list(shape), dtype] for name, (shape, dtype) in entries.items()}


@test_case(name="W8A16LinearLayer(16, 32): three buffers, no parameters", points=1)
def layer_buffers(W8A16LinearLayer):
    x = torch.linspace(-1, 1, 96).reshape(1, 6, 16)
    got = layer_findings(W8A16LinearLayer, 16, 32, True, inputs=[x])
    want = {
        "buffers": _table(int8_weights=((32, 16), "int8"), scales=((32,), "float32"), bias=((1, 32), "float32")),
        "parameters": {},
        "bias_is_none": False,
    }
    expect_layer(got, want, call="W8A16LinearLayer(16, 32, True)")
    # Before quantize the buffers hold arbitrary values: only the output's dtype and shape are known.
    output = got["outputs"][0]
    output = torch.nan_to_num(output) if type(output) is torch.Tensor else output
    checks.expect_tensor(output, what="forward output of W8A16LinearLayer(16, 32) on a (1, 6, 16) input",
                         dtype=torch.float32, shape=(1, 6, 32))


@test_case(name="bias=False: self.bias is None and only two buffers", points=1)
def layer_without_bias(W8A16LinearLayer):
    got = layer_findings(W8A16LinearLayer, 3, 3, False)
    want = {
        "buffers": _table(int8_weights=((3, 3), "int8"), scales=((3,), "float32")),
        "parameters": {},
        "bias_is_none": True,
    }
    expect_layer(got, want, call="W8A16LinearLayer(3, 3, False)")


@test_case(name="course fixture: quantize W, then forward [[1, 2, 3]] with and without a bias", points=1)
def layer_course_fixture(W8A16LinearLayer):
    x = torch.tensor([[1.0, 2.0, 3.0]])
    want = {
        "buffers_after_quantize": _table(int8_weights=((3, 3), "int8"), scales=((3,), "float32")),
        "parameters_after_quantize": {},
        "int8_weights": _W_CODES,
        "scales": torch.tensor(_W_SCALES),
    }
    # The course printed [[-2.9921, 3.8650, 9.3957]].
    got = layer_findings(W8A16LinearLayer, 3, 3, False, weights=fixtures.W(), inputs=[x])
    expect_layer(got, want, call="W8A16LinearLayer(3, 3, False) quantized with W", weights=fixtures.W(), inputs=[x])
    # With the bias [[0.5, -0.5, 1.0]] the course printed [[-2.4921, 3.3650, 10.3957]].
    bias = torch.tensor([[0.5, -0.5, 1.0]])
    want["buffers_after_quantize"]["bias"] = [[1, 3], "float32"]
    got = layer_findings(W8A16LinearLayer, 3, 3, True, weights=fixtures.W(), bias_values=bias, inputs=[x])
    expect_layer(got, want, call="W8A16LinearLayer(3, 3, True) quantized with W", weights=fixtures.W(),
                 inputs=[x], bias_values=bias)


@test_case(name="course fixture in bfloat16: same codes, bfloat16 scales and output", points=1)
def layer_course_fixture_bf16(W8A16LinearLayer):
    x = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.bfloat16)
    w = fixtures.W().to(torch.bfloat16)
    want = {
        "buffers_after_quantize": _table(int8_weights=((3, 3), "int8"), scales=((3,), "bfloat16")),
        "int8_weights": _W_CODES,
        "scales": torch.tensor(_W_SCALES).to(torch.bfloat16),
    }
    # The course printed tensor([[-2.9844, 3.8750, 9.4375]], dtype=torch.bfloat16).
    got = layer_findings(W8A16LinearLayer, 3, 3, False, torch.bfloat16, weights=w, inputs=[x])
    expect_layer(got, want, call="W8A16LinearLayer(3, 3, False, torch.bfloat16) quantized with W in bfloat16",
                 weights=w, inputs=[x])
