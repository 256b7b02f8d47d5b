"""Probes of labs L5-B and L5-C: 2- and 4-bit codes, one byte and several."""

from __future__ import annotations

from quant_mistakes.probes import calls


def probes() -> dict:
    import torch

    def codes(values):
        return torch.tensor(values, dtype=torch.uint8)

    inputs = {
        "pack_weights": [
            ((codes([1, 0, 3, 2]), 2), {}), ((codes([1, 0, 3, 2, 3, 3, 3, 3]), 2), {}),
            ((codes([1, 15, 7, 0]), 4), {}), ((codes(list(range(8))), 4), {}),
        ],
        "unpack_weights": [
            ((codes([177]), 2), {}), ((codes([177, 255]), 2), {}), ((codes([241, 7]), 4), {}),
            ((codes([16, 50, 84, 118]), 4), {}),
        ],
    }
    return {question: calls(question, given) for question, given in inputs.items()}
