"""Lab L3-D, Quantization in Depth. Bob's solutions (reshape, no per-channel loop)."""

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
    moved = r_tensor.movedim(dim, 0)
    r_max = moved.reshape(moved.shape[0], -1).abs().amax(dim=1)
    shape = [1] * r_tensor.dim()
    shape[dim] = -1
    scale = (r_max / torch.iinfo(dtype).max).reshape(shape)
    return linear_q_with_scale_and_zero_point(r_tensor, scale, 0, dtype), scale


def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
    if tensor.dim() != 2 or tensor.shape[1] % group_size != 0:
        raise ValueError(f"group_size {group_size} must divide the row length of a 2-D tensor")
    groups = tensor.reshape(-1, group_size)
    scale = groups.abs().amax(dim=1, keepdim=True) / torch.iinfo(dtype).max
    q = linear_q_with_scale_and_zero_point(groups, scale, 0, dtype)
    return q.reshape(tensor.shape), scale


def linear_dequantization_per_group(quantized_tensor, scale, group_size):
    groups = quantized_tensor.reshape(-1, group_size)
    return linear_dequantization(groups, scale, 0).reshape(quantized_tensor.shape)


if __name__ == "__main__":
    g = torch.rand((6, 6), generator=torch.Generator().manual_seed(0))
    q, s = linear_q_symmetric_per_group(g, 3)
    print("Quantization Error :", quantization_error(g, linear_dequantization_per_group(q, s, 3)).item())
