"""Hidden reference for labs L4-A (W8A16 layer) and L4-B (layer replacement).

Follows docs/course.md §2 (L4-A, L4-B) and the project decisions §3.4 (quantize in
float32, clamp, scales cast to the weight dtype, detached buffers), §3.5 (layer layout,
positional constructor, bias carried over) and §3.6 (exclusion by immediate child name).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "w8_a16_forward",
    "W8A16LinearLayer",
    "replace_linear_with_target",
    "replace_linear_with_target_and_quantize",
]

Q_MAX = torch.iinfo(torch.int8).max


# L4-A ---------------------------------------------------------------------------------------------

def w8_a16_forward(weight, input, scales, bias=None):
    """`F.linear(input, weight.to(input.dtype)) * scales (+ bias)`: scales multiply the output rows.

    The output dtype is torch's promotion of the input, scales and bias dtypes (the course's).
    """
    casted_weights = weight.to(input.dtype)
    output = F.linear(input, casted_weights) * scales
    if bias is not None:
        output = output + bias
    return output


def per_row_scales_and_codes(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(scales in the weight dtype, int8 codes) of symmetric per-row quantization (§3.4)."""
    if not isinstance(weights, torch.Tensor) or weights.dim() != 2:
        raise ValueError("quantize expects a 2-D weight matrix of shape (out_features, in_features)")
    if weights.numel() == 0:
        raise ValueError("cannot quantize an empty weight matrix")
    w32 = weights.detach().to(torch.float32)
    if not torch.isfinite(w32).all():
        raise ValueError("cannot quantize weights that hold NaN or inf")
    row_max = w32.abs().max(dim=-1).values
    if bool((row_max == 0).any()):
        raise ValueError("a row of all zeros has no scale in symmetric mode")
    scales = (row_max / Q_MAX).to(weights.dtype)
    codes = torch.round(w32 / scales.to(torch.float32).unsqueeze(1)).clamp(-128, Q_MAX).to(torch.int8)
    return scales, codes


class W8A16LinearLayer(nn.Module):
    """A linear layer with int8 weights and per-output-row scales in `dtype`, all buffers."""

    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
        super().__init__()
        self.register_buffer(
            "int8_weights", torch.randint(-128, 127, (out_features, in_features), dtype=torch.int8)
        )
        self.register_buffer("scales", torch.randn((out_features,), dtype=dtype))
        if bias:
            self.register_buffer("bias", torch.randn((1, out_features), dtype=dtype))
        else:
            self.bias = None

    def quantize(self, weights):
        scales, codes = per_row_scales_and_codes(weights)
        self.int8_weights = codes
        self.scales = scales

    def forward(self, input):
        return w8_a16_forward(self.int8_weights, input, self.scales, self.bias)


# L4-B ---------------------------------------------------------------------------------------------

def _replace(module: nn.Module, target_class, module_name_to_exclude, *, quantize: bool) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Linear) and not any(name == excluded for excluded in module_name_to_exclude):
            old_bias = child.bias
            old_weight = child.weight
            new_module = target_class(child.in_features, child.out_features, old_bias is not None, child.weight.dtype)
            setattr(module, name, new_module)
            if quantize:
                getattr(module, name).quantize(old_weight)
            if old_bias is not None:
                getattr(module, name).bias = old_bias
        else:
            _replace(child, target_class, module_name_to_exclude, quantize=quantize)


def replace_linear_with_target(module, target_class, module_name_to_exclude):
    """Replace, in place, every `nn.Linear` whose own name is not excluded; returns None."""
    _replace(module, target_class, module_name_to_exclude, quantize=False)


def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
    """As `replace_linear_with_target`, and quantize each new layer with the old weight."""
    _replace(module, target_class, module_name_to_exclude, quantize=True)
