"""Probes of labs L2-A to L3-B: course tensors, exact ties, every integer dtype, skewed ranges."""

from __future__ import annotations

from quant_mistakes.probes import calls


def probes() -> dict:
    import torch

    from quantlab import fixtures

    t, n = fixtures.T(), fixtures.N()
    ties = torch.tensor([0.25, 0.75, 1.25, -0.25, -0.75, 2.5, -3.5])
    codes = torch.tensor([[-15, -74, 127], [-44, 14, -123], [-70, 126, 0]], dtype=torch.int8)
    mixed = torch.tensor([-2.0, 1.0, 0.5])
    # Exact ties: the computed scale is 0.5 and, for the asymmetric one, the zero point -127 (odd).
    asymmetric_ties = torch.tensor([-0.5, 127.0, 0.25, 0.75, 1.25, -0.25])
    symmetric_ties = torch.tensor([63.5, 0.25, 0.75, 1.25, -0.25, -0.75, 2.25])
    asymmetric = [((t,), {}), ((t,), {"dtype": torch.uint8}), ((n,), {}), ((t,), {"dtype": torch.int16}),
                  ((asymmetric_ties,), {})]
    symmetric = [((t,), {}), ((t,), {"dtype": torch.int16}), ((mixed,), {}), ((n,), {"dtype": torch.uint8}),
                 ((symmetric_ties,), {})]
    inputs = {
        "linear_q_with_scale_and_zero_point": [
            ((t, 3.5, -70), {}), ((ties, 0.5, 0), {}), ((ties, 0.5, 1), {}),
            ((t, 3.578823433670343, 51), {"dtype": torch.uint8}), ((t * 40, 1.0, 3), {"dtype": torch.int16}),
        ],
        "linear_dequantization": [((codes, 3.5, -70), {}), ((codes.to(torch.int16) * 200, 0.25, -30000), {})],
        "get_q_scale_and_zero_point": asymmetric,
        "linear_quantization": asymmetric,
        "get_q_scale_symmetric": symmetric,
        "linear_q_symmetric": symmetric,
        "quantization_error": [((t, 3.5 * (codes.float() + 70)), {}), ((mixed, mixed * 1.5), {})],
    }
    return {question: calls(question, given) for question, given in inputs.items()}
