"""Correct functions that print tens of megabytes."""

import sys

import torch

print("x" * (40 * 1024 * 1024))
sys.stderr.write("y" * (10 * 1024 * 1024))


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    print("q" * (10 * 1024 * 1024))
    info = torch.iinfo(dtype)
    return torch.clamp(torch.round(tensor / scale + zero_point), info.min, info.max).to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    print("d" * (10 * 1024 * 1024), file=sys.stderr)
    return scale * (quantized_tensor.float() - zero_point)
