"""Right results, computed in place: every input it is given is destroyed on the way."""

import torch


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    info = torch.iinfo(dtype)
    result = tensor.div_(scale).add_(zero_point).round_().clamp_(info.min, info.max).to(dtype)
    tensor.fill_(float("nan"))
    return result


def linear_dequantization(quantized_tensor, scale, zero_point):
    result = scale * (quantized_tensor.float() - zero_point)
    quantized_tensor.zero_()
    return result
