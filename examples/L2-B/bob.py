"""Lab L2-B, Quantization in Depth. Bob's solutions."""

import torch


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    info = torch.iinfo(dtype)
    return torch.clamp(torch.round(tensor.float() / scale + zero_point), info.min, info.max).to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    return scale * (quantized_tensor.to(torch.float32) - zero_point)


def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
    info = torch.iinfo(dtype)
    r_min, r_max = (v.item() for v in torch.aminmax(tensor))
    scale = (r_max - r_min) / (info.max - info.min)
    # rounding first is harmless: anything that rounds outside the range is clipped anyway
    return scale, min(max(int(round(info.min - r_min / scale)), info.min), info.max)


def linear_quantization(tensor, dtype=torch.int8):
    scale, zero_point = get_q_scale_and_zero_point(tensor, dtype)
    return linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype), scale, zero_point


if __name__ == "__main__":
    t = torch.tensor([[191.6, -13.5, 728.6], [92.14, 295.5, -184], [0, 684.6, 245.5]])
    print(linear_quantization(t))
    print(linear_quantization(t, torch.uint8))
