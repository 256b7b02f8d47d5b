import torch
from otter.test_files import test_case

from quantlab import models
from quantlab.layer_findings import RECORDING, expect_replacement, replacement_findings

OK_FORMAT = False
name = "replace_linear_with_target_and_quantize"

_CALL = "replace_linear_with_target_and_quantize"


@test_case(name="DummyModel, exclude ['lm_head']: returns None, quantizes each new layer with the old weight", points=1)
def quantize_dummy(replace_linear_with_target_and_quantize):
    got = replacement_findings(replace_linear_with_target_and_quantize, RECORDING, "dummy", ["lm_head"])
    original = models.build("dummy")
    want = {
        "types": {"(model)": "DummyModel", "emb": "Embedding", "linear_1": "RecordingLinear",
                  "linear_2": "RecordingLinear", "lm_head": "Linear"},
        "quantized_with": {"linear_1": [original.linear_1.weight.detach()],
                           "linear_2": [original.linear_2.weight.detach()]},
        "bias": {"linear_1": original.linear_1.bias.detach().flatten(), "linear_2": None},
    }
    expect_replacement(got, want, call=_CALL, require_none=True)


@test_case(name="non-square Linears: built as target_class(in, out, has_bias, dtype); the model computes as before",
           points=1)
def quantize_non_square(replace_linear_with_target_and_quantize):
    x = torch.linspace(-2, 2, 48).reshape(3, 16)
    got = replacement_findings(replace_linear_with_target_and_quantize, RECORDING, "non_square", [], inputs=[x])
    original = models.build("non_square")
    f32 = torch.float32
    want = {
        "types": {"(model)": "Sequential", "0": "RecordingLinear", "1": "ReLU", "2": "RecordingLinear",
                  "3": "RecordingLinear"},
        "built_with": {"0": [[16, 8, True, f32], []], "2": [[8, 24, False, f32], []], "3": [[24, 5, True, f32], []]},
        "quantized_with": {"0": [original[0].weight.detach()], "2": [original[2].weight.detach()],
                           "3": [original[3].weight.detach()]},
        # RecordingLinear computes with the weights it was given, so the outputs are the original model's.
        "outputs": [original(x).detach()],
    }
    expect_replacement(got, want, call=_CALL)


@test_case(name="with your W8A16LinearLayer: the course's DummyModel and its state_dict keys", points=1)
def quantize_dummy_with_your_layer(replace_linear_with_target_and_quantize, W8A16LinearLayer):
    got = replacement_findings(replace_linear_with_target_and_quantize, W8A16LinearLayer, "dummy", ["lm_head"])
    want = {
        "types": {"(model)": "DummyModel", "emb": "Embedding", "linear_1": "W8A16LinearLayer",
                  "linear_2": "W8A16LinearLayer", "lm_head": "Linear"},
        "replaced": ["linear_1", "linear_2"],
        "state_dict": {
            "emb.weight": [[1, 1], "float32"], "linear_1.bias": [[1], "float32"],
            "linear_1.int8_weights": [[1, 1], "int8"], "linear_1.scales": [[1], "float32"],
            "linear_2.int8_weights": [[1, 1], "int8"], "linear_2.scales": [[1], "float32"],
            "lm_head.weight": [[1, 1], "float32"],
        },
        "bias": {"linear_1": models.build("dummy").linear_1.bias.detach().flatten(), "linear_2": None},
    }
    expect_replacement(got, want, call=_CALL)
