"""Quantization is right; dequantization crashes the interpreter with a segmentation fault."""

import ctypes

import torch


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    info = torch.iinfo(dtype)
    return torch.clamp(torch.round(tensor / scale + zero_point), info.min, info.max).to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    ctypes.string_at(0)
