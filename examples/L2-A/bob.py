"""Lab L2-A, Quantization in Depth. Bob's solutions."""

import torch


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    info = torch.iinfo(dtype)
    return torch.clamp(torch.round(tensor.float() / scale + zero_point), info.min, info.max).to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    return scale * (quantized_tensor.to(torch.float32) - zero_point)


if __name__ == "__main__":
    t = torch.tensor([[191.6, -13.5, 728.6], [92.14, 295.5, -184], [0, 684.6, 245.5]])
    q = linear_q_with_scale_and_zero_point(t, 3.5, -70)
    print(q)
    print(linear_dequantization(q, 3.5, -70))
