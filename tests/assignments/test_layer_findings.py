"""quantlab.layer_findings and the W8A16 output check, with real right and wrong layers (docs/course.md §2 L4,
§5, §7)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import quant_reference as ref
from quantlab import checks, fixtures, models
from quantlab.checks import CheckFailed
from quantlab.harness import REGISTRY
from quantlab.layer_findings import (
    RECORDING,
    RecordingLinear,
    expect_layer,
    expect_replacement,
    layer_findings,
    replacement_findings,
)

CODES = torch.tensor([[-127, -72, 27], [-118, 20, 127], [14, 80, 127]], dtype=torch.int8)
SCALES = torch.tensor([0.015748031437397003, 0.012755905278027058, 0.016929134726524353])
X = torch.tensor([[1.0, 2.0, 3.0]])


def test_inspections_are_registered_under_their_module():
    assert REGISTRY["quantlab.layer_findings.layer_findings"].__name__ == "layer_findings"
    assert REGISTRY["quantlab.layer_findings.replacement_findings"].__name__ == "replacement_findings"


class TestW8A16Output:
    def test_the_course_output_passes_in_float32_and_bfloat16(self):
        checks.expect_w8a16_output(ref.w8_a16_forward(CODES, X, SCALES), X, CODES, SCALES, what="output")
        xb, sb = X.bfloat16(), SCALES.bfloat16()
        checks.expect_w8a16_output(ref.w8_a16_forward(CODES, xb, sb), xb, CODES, sb, what="output")

    def test_scale_128_and_bias_before_scale_fail_in_float32(self):
        with pytest.raises(CheckFailed, match="are off"):
            checks.expect_w8a16_output(ref.w8_a16_forward(CODES, X, SCALES * 127 / 128), X, CODES, SCALES,
                                       what="output")
        bias = torch.tensor([[0.5, -0.5, 1.0]])
        wrong = (nn.functional.linear(X, CODES.float()) + bias) * SCALES
        with pytest.raises(CheckFailed):
            checks.expect_w8a16_output(wrong, X, CODES, SCALES, bias, what="output")

    def test_the_output_dtype_is_torchs_promotion(self):
        xb = X.bfloat16()
        with pytest.raises(CheckFailed, match="dtype torch.bfloat16, but it should be torch.float32"):
            checks.expect_w8a16_output(ref.w8_a16_forward(CODES, xb, SCALES).bfloat16(), xb, CODES, SCALES,
                                       what="output")


class TestLayerFindings:
    def test_reference_findings(self):
        found = layer_findings(ref.W8A16LinearLayer, 3, 3, False, weights=fixtures.W(), inputs=[X])
        assert found["buffers"] == {"int8_weights": [[3, 3], "int8"], "scales": [[3], "float32"]}
        assert found["parameters"] == {} and found["bias_is_none"] and found["quantize_returned"] == "None"
        assert torch.equal(found["int8_weights"], CODES)

    def test_an_int8_parameter_is_reported_and_rejected(self):
        class ParameterLayer(ref.W8A16LinearLayer):
            def __init__(self, *args):
                super().__init__(*args)
                self.int8_weights = nn.Parameter(self.int8_weights, requires_grad=False)

        got = layer_findings(ParameterLayer, 3, 3, False)
        assert got["parameters"] == {"int8_weights": [[3, 3], "int8"]}
        want = layer_findings(ref.W8A16LinearLayer, 3, 3, False)
        with pytest.raises(CheckFailed, match="register_buffer"):
            expect_layer(got, want, call="ParameterLayer(3, 3, False)")

    def test_a_function_in_place_of_a_class_is_named_by_its_type(self):
        import numpy as np

        got = layer_findings(lambda *args: np.zeros(3), 3, 3)
        with pytest.raises(CheckFailed, match="numpy.ndarray"):
            expect_layer(got, {}, call="W8A16LinearLayer(3, 3, True)")


class TestReplacementFindings:
    def test_recording_target_records_arguments_and_weights(self):
        found = replacement_findings(ref.replace_linear_with_target_and_quantize, RECORDING, "non_square", [],
                                     inputs=[torch.ones(2, 16)])
        original = models.build("non_square")
        assert found["built_with"]["0"] == [[16, 8, True, torch.float32], []]
        assert torch.equal(found["quantized_with"]["2"][0], original[2].weight.detach())
        assert torch.allclose(found["outputs"][0], original(torch.ones(2, 16)).detach())
        assert found["returned"] == "None" and found["other_modules_kept"]

    def test_a_new_model_is_not_in_place(self):
        def copy_and_replace(module, target_class, exclude):
            import copy

            clone = copy.deepcopy(module)
            ref.replace_linear_with_target(clone, target_class, exclude)
            return clone

        want = replacement_findings(ref.replace_linear_with_target, RECORDING, "dummy", ["lm_head"])
        got = replacement_findings(copy_and_replace, RECORDING, "dummy", ["lm_head"])
        assert got["returned"] == "DummyModel"
        with pytest.raises(CheckFailed, match="should return None"):
            expect_replacement(got, want, call="replace")

    def test_wrong_argument_order_shows_in_the_state_dict(self):
        def swapped(module, target_class, exclude):
            for name, child in module.named_children():
                if isinstance(child, nn.Linear):
                    layer = target_class(child.out_features, child.in_features, child.bias is not None,
                                         child.weight.dtype)
                    setattr(module, name, layer)
                    if child.bias is not None:
                        layer.bias = child.bias

        want = replacement_findings(ref.replace_linear_with_target, ref.W8A16LinearLayer, "non_square", [])
        got = replacement_findings(swapped, ref.W8A16LinearLayer, "non_square", [])
        with pytest.raises(CheckFailed, match="state_dict entry `0.int8_weights` has shape \\[16, 8\\]"):
            expect_replacement(got, {k: want[k] for k in ("types", "replaced", "state_dict")}, call="replace")

    def test_the_bias_may_be_kept_as_a_row(self):
        want = replacement_findings(ref.replace_linear_with_target, ref.W8A16LinearLayer, "dummy", [])

        def copy_into_buffer(module, target_class, exclude):
            for name, child in module.named_children():
                if isinstance(child, nn.Linear):
                    layer = target_class(child.in_features, child.out_features, child.bias is not None,
                                         child.weight.dtype)
                    if child.bias is not None:
                        layer.bias.copy_(child.bias.detach().reshape(1, -1))
                    setattr(module, name, layer)

        got = replacement_findings(copy_into_buffer, ref.W8A16LinearLayer, "dummy", [])
        assert got["state_dict"]["linear_1.bias"] == [[1, 1], "float32"] != want["state_dict"]["linear_1.bias"]
        expect_replacement(got, {k: want[k] for k in ("types", "replaced", "state_dict", "bias")}, call="replace")

    def test_recording_linear_needs_weights_to_compute(self):
        with pytest.raises(RuntimeError, match="never quantized"):
            RecordingLinear(3, 2, True, torch.float32)(torch.ones(1, 3))
