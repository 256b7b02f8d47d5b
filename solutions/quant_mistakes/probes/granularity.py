"""Probes of labs L3-C and L3-D: square tensors, so a misshapen scale still broadcasts and shows
what it computes; negative maxima; exact ties in every row and group."""

from __future__ import annotations

from quant_mistakes.probes import calls


def probes() -> dict:
    import torch

    import quant_reference as ref
    from quantlab import fixtures

    t, g, a = fixtures.T(), fixtures.G(), fixtures.A()
    negative_maxima = torch.tensor([[-2.0, 1.0, 0.5], [0.5, -1.0, 0.25], [3.0, -4.0, 1.0]])
    # Row and group maxima 63.5, 31.75, 127 and 15.875: power-of-two scales, exact ties everywhere.
    ties = torch.tensor([
        [63.5, 0.25, 0.75, -1.25], [-31.75, 0.125, 2.375, -0.625],
        [127.0, 2.5, -0.5, 3.5], [0.0625, 15.875, -1.1875, 4.3125],
    ])
    per_group = [(g, 3), (g, 6), (a, 2)]
    inputs = {
        "linear_q_symmetric_per_channel": [
            ((t, 0), {}), ((t, 1), {}), ((t, -1), {}), ((negative_maxima, 0), {}),
            ((t, 0), {"dtype": torch.int16}), ((ties, 0), {}),
        ],
        "linear_q_symmetric_per_group": [((r, size), {}) for r, size in per_group] + [
            ((g, 3), {"dtype": torch.int16}), ((ties, 4), {}), ((-g, 2), {}),
        ],
        "linear_dequantization_per_group": [
            ((*ref.linear_q_symmetric_per_group(r, size), size), {}) for r, size in per_group
        ],
    }
    return {question: calls(question, given) for question, given in inputs.items()}
