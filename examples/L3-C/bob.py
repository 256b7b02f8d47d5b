"""Lab L3-C, Quantization in Depth. Bob's solutions."""

import torch


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    info = torch.iinfo(dtype)
    return torch.clamp(torch.round(tensor.float() / scale + zero_point), info.min, info.max).to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    return scale * (quantized_tensor.to(torch.float32) - zero_point)


def get_q_scale_symmetric(tensor, dtype=torch.int8):
    return tensor.abs().max().item() / torch.iinfo(dtype).max


def quantization_error(tensor, dequantized_tensor):
    return torch.nn.functional.mse_loss(dequantized_tensor, tensor)


def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
    # the largest |r| over every dim except `dim`, kept as size-1 dims so it broadcasts
    dim = dim % r_tensor.dim()
    others = [d for d in range(r_tensor.dim()) if d != dim]
    r_max = r_tensor.abs().amax(dim=others, keepdim=True) if others else r_tensor.abs()
    scale = r_max / torch.iinfo(dtype).max
    return linear_q_with_scale_and_zero_point(r_tensor, scale, 0, dtype), scale


if __name__ == "__main__":
    t = torch.tensor([[191.6, -13.5, 728.6], [92.14, 295.5, -184], [0, 684.6, 245.5]])
    for dim in (0, 1):
        q, s = linear_q_symmetric_per_channel(t, dim)
        print(dim, "Quantization Error :", quantization_error(t, linear_dequantization(q, s, 0)).item())
