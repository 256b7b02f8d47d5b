import torch
from otter.test_files import test_case

from quantlab import models
from quantlab.layer_findings import RECORDING, expect_replacement, replacement_findings

OK_FORMAT = False
name = "replace_linear_with_target"

_CALL = "replace_linear_with_target"


def _dummy_types(linear_2="RecordingLinear", lm_head="Linear", target="RecordingLinear"):
    return {"(model)": "DummyModel", "emb": "Embedding", "linear_1": target, "linear_2": linear_2, "lm_head": lm_head}


@test_case(name="DummyModel, exclude ['lm_head']: returns None, replaces linear_1 and linear_2 in place", points=1)
def replace_dummy(replace_linear_with_target):
    got = replacement_findings(replace_linear_with_target, RECORDING, "dummy", ["lm_head"])
    expect_replacement(got, {"types": _dummy_types()}, call=_CALL, require_none=True)


@test_case(name="DummyModel, exclude []: all three Linears are replaced", points=1)
def replace_dummy_nothing_excluded(replace_linear_with_target):
    got = replacement_findings(replace_linear_with_target, RECORDING, "dummy", [])
    expect_replacement(got, {"types": _dummy_types(lm_head="RecordingLinear")}, call=_CALL)


@test_case(name="the new layers are built as target_class(in, out, has_bias, dtype) and keep the bias", points=1)
def replace_arguments_and_bias(replace_linear_with_target):
    got = replacement_findings(replace_linear_with_target, RECORDING, "non_square", [])
    f32 = torch.float32
    want = {
        "types": {"(model)": "Sequential", "0": "RecordingLinear", "1": "ReLU", "2": "RecordingLinear",
                  "3": "RecordingLinear"},
        "built_with": {"0": [[16, 8, True, f32], []], "2": [[8, 24, False, f32], []], "3": [[24, 5, True, f32], []]},
    }
    expect_replacement(got, want, call=_CALL)
    original = models.build("non_square")
    want_bias = {"0": original[0].bias.detach().flatten(), "2": None, "3": original[3].bias.detach().flatten()}
    expect_replacement(got, {"types": want["types"], "bias": want_bias}, call=_CALL)


@test_case(name="with your W8A16LinearLayer: the course's DummyModel and its state_dict keys", points=1)
def replace_dummy_with_your_layer(replace_linear_with_target, W8A16LinearLayer):
    got = replacement_findings(replace_linear_with_target, W8A16LinearLayer, "dummy", ["lm_head"])
    want = {
        "types": _dummy_types("W8A16LinearLayer", target="W8A16LinearLayer"),
        "replaced": ["linear_1", "linear_2"],
        "state_dict": {
            "emb.weight": [[1, 1], "float32"], "linear_1.bias": [[1], "float32"],
            "linear_1.int8_weights": [[1, 1], "int8"], "linear_1.scales": [[1], "float32"],
            "linear_2.int8_weights": [[1, 1], "int8"], "linear_2.scales": [[1], "float32"],
            "lm_head.weight": [[1, 1], "float32"],
        },
    }
    expect_replacement(got, want, call=_CALL)
