"""Probes of lab L3-E: one input and a batch, with symmetric and asymmetric (z != 0) weights."""

from __future__ import annotations

from quant_mistakes.probes import calls


def probes() -> dict:
    import torch

    import quant_reference as ref
    from quantlab import fixtures

    w = fixtures.W()
    x, batch = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([[1.0, 2.0, 3.0], [-0.5, 4.0, 1.5]])
    q_w, s_w = ref.linear_q_symmetric(w)
    q_a, s_a, z_a = ref.linear_quantization(w)
    inputs = {
        "quantized_linear_W8A32_without_bias": [
            ((x, q_w, s_w, 0), {}), ((batch, q_w, s_w, 0), {}), ((batch, q_a, s_a, z_a), {}),
        ],
    }
    return {question: calls(question, given) for question, given in inputs.items()}
