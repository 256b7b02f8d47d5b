"""Right numbers in the wrong form: float codes instead of int8, and NaN where a value is unsure."""

import torch


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    info = torch.iinfo(dtype)
    return torch.clamp(torch.round(tensor / scale + zero_point), info.min, info.max)  # no cast


def linear_dequantization(quantized_tensor, scale, zero_point):
    result = scale * (quantized_tensor.float() - zero_point)
    result.view(-1)[0] = float("nan")
    return result
