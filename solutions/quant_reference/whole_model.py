"""Hidden reference for labs L4-C (quantize a whole model) and L4-D (save it, load it into a skeleton).

Follows docs/course.md §4: the footprint is Σ numel·element_size over parameters and
buffers (what transformers' `get_memory_footprint()` computes); quantizing goes through
`replace_linear_with_target_and_quantize`; loading builds the model on the meta device, replaces
its Linears without quantizing, and loads with `strict=True, assign=True`.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import replace_linear_with_target, replace_linear_with_target_and_quantize

__all__ = ["model_memory_footprint", "quantize_model", "save_quantized_state_dict", "load_quantized_model"]


# L4-C ---------------------------------------------------------------------------------------------

def model_memory_footprint(model: nn.Module) -> int:
    """Bytes held by the model's parameters and buffers (each shared tensor counted once)."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def quantize_model(model: nn.Module, target_class, module_name_to_exclude) -> tuple[int, int]:
    """Quantize `model` in place; returns its footprint (bytes) before and after."""
    before = model_memory_footprint(model)
    replace_linear_with_target_and_quantize(model, target_class, module_name_to_exclude)
    return before, model_memory_footprint(model)


# L4-D ---------------------------------------------------------------------------------------------

def save_quantized_state_dict(model: nn.Module, file) -> None:
    """`torch.save` the model's state dict (every parameter and persistent buffer) to a path or file object."""
    torch.save(model.state_dict(), file)


def load_quantized_model(build_model, file, target_class, module_name_to_exclude) -> nn.Module:
    """Build an empty skeleton on the meta device, swap in `target_class` layers, load the saved tensors."""
    with torch.device("meta"):
        model = build_model()
    replace_linear_with_target(model, target_class, module_name_to_exclude)
    state_dict = torch.load(file, weights_only=True)
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model
