"""Lab L3-E: the W8A32 linear layer, dequantizing as s * (q - z) (docs/course.md §3.3)."""

CODE = """\
import torch

def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
    assert input.dtype == torch.float32
    assert q_w.dtype == torch.int8
    dequantized_weight = s_w * (q_w.to(torch.float32) - z_w)
    output = torch.nn.functional.linear(input, dequantized_weight)
    return output
"""
