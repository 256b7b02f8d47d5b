"""Lab L3-E, Quantization in Depth. Bob's solutions."""

import torch


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    info = torch.iinfo(dtype)
    return torch.clamp(torch.round(tensor.float() / scale + zero_point), info.min, info.max).to(dtype)


def get_q_scale_symmetric(tensor, dtype=torch.int8):
    return tensor.abs().max().item() / torch.iinfo(dtype).max


def linear_q_symmetric(tensor, dtype=torch.int8):
    scale = get_q_scale_symmetric(tensor, dtype)
    return linear_q_with_scale_and_zero_point(tensor, scale, 0, dtype), scale


def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
    if input.dtype != torch.float32 or q_w.dtype != torch.int8:
        raise ValueError("expected float32 activations and an int8 weight")
    # (q - z) once, as floats; the single scale can wait until after the matmul
    return torch.matmul(input, (q_w.float() - z_w).t()) * s_w


if __name__ == "__main__":
    w = torch.tensor([[-2, -1.13, 0.42], [-1.51, 0.25, 1.62], [0.23, 1.35, 2.15]])
    q, s = linear_q_symmetric(w)
    print(quantized_linear_W8A32_without_bias(torch.tensor([1.0, 2.0, 3.0]), q, s, 0))
