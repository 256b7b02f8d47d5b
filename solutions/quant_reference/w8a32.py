"""Lab L3-E: a linear layer with 8-bit weights and 32-bit activations (docs/course.md §2, §3.3)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["quantized_linear_W8A32_without_bias"]


def _python_number(value, kind: type, what: str):
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} should be a Python {kind.__name__}, got {type(value).__name__}")
    return value


def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
    """`F.linear(input, s_w * (q_w.float() - z_w))`: the weight is dequantized as `s(q - z)`.

    The course writes `q_w * s_w + z_w`, which agrees only when the zero point is 0 (decision §3.3).
    """
    if not isinstance(input, torch.Tensor) or input.dtype != torch.float32:
        raise ValueError(f"input should be a float32 tensor, got {getattr(input, 'dtype', type(input).__name__)}")
    if not isinstance(q_w, torch.Tensor) or q_w.dtype != torch.int8 or q_w.dim() != 2:
        raise ValueError("q_w should be a 2-D torch.int8 tensor of shape (out_features, in_features)")
    if input.dim() == 0 or input.shape[-1] != q_w.shape[1]:
        raise ValueError(f"input's last dim {tuple(input.shape)[-1:]} does not match in_features {q_w.shape[1]}")
    if input.numel() == 0 or q_w.numel() == 0:
        raise ValueError("cannot multiply empty tensors")
    if not bool(torch.isfinite(input).all()):
        raise ValueError("input holds NaN or inf")
    scale = float(_python_number(s_w, float, "s_w"))
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"s_w must be a positive finite number, got {scale}")
    zero_point = _python_number(z_w, int, "z_w")
    if zero_point != int(zero_point):
        raise ValueError(f"z_w must be an integer, got {zero_point}")
    dequantized_weight = scale * (q_w.float() - int(zero_point))
    return F.linear(input, dequantized_weight)
