"""Probes of labs L4-A and L4-B: the forward pass on course codes, and the layer and the replacement
functions through quantlab's inspections (a bfloat16 row that wraps, exclusion by name, a
non-square weight, nested models)."""

from __future__ import annotations

from quant_mistakes.probes import calls, inspections


def probes() -> dict:
    import torch

    from quantlab import fixtures
    from quantlab.layer_findings import RECORDING, layer_findings, replacement_findings

    w = fixtures.W()
    x = torch.tensor([[1.0, 2.0, 3.0]])
    bias = torch.tensor([[0.5, -0.5, 1.0]])
    codes = torch.tensor([[-127, -72, 27], [-118, 20, 127], [14, 80, 127]], dtype=torch.int8)
    scales = torch.tensor([0.015748031437397003, 0.012755905278027058, 0.016929134726524353])
    # A bfloat16 row with max 2.6875: w / s = 127.26 in float32, 127.5 -> 128 -> -128 in bfloat16.
    wrapping = torch.tensor([[2.6875, -1.0, 0.5], [-2.0, 1.25, 0.75]], dtype=torch.bfloat16)
    replacements = [
        ((RECORDING, "nested", []), {}), ((RECORDING, "dummy", ["lm_head"]), {}), ((RECORDING, "eleven", ["1"]), {}),
        ((RECORDING, "deep", ["lm_head"]), {}), ((RECORDING, "non_square", []), {}),
    ]
    return {
        "w8_a16_forward": calls("w8_a16_forward", [((codes, x, scales), {}), ((codes, x, scales, bias), {})]),
        "W8A16LinearLayer": inspections("W8A16LinearLayer", layer_findings, [
            ((3, 3, True), {"weights": w, "bias_values": bias, "inputs": [x]}),
            ((3, 2, False, torch.bfloat16), {"weights": wrapping, "inputs": [x.to(torch.bfloat16)]}),
        ]),
        "replace_linear_with_target": inspections("replace_linear_with_target", replacement_findings, replacements),
        "replace_linear_with_target_and_quantize": inspections(
            "replace_linear_with_target_and_quantize", replacement_findings, replacements
        ),
    }
