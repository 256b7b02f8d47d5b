"""Labs L3-C and L3-D: symmetric quantization per channel and per group (docs/course.md §2).

Scales are float32 tensors shaped to broadcast against the tensor: `[1]*ndim` with `-1` at the
channel dim (per channel), `[numel/group_size, 1]` (per group). Each scale is `max|r| / q_max`
computed in float64 from the float32 maximum and stored in float32, as the course's loop of
`scale[i] = get_q_scale_symmetric(...)` does.
"""

from __future__ import annotations

import torch

from quant_reference.quantize import _check_dtype, _check_finite, _quantize

__all__ = [
    "linear_q_symmetric_per_channel",
    "linear_q_symmetric_per_group",
    "linear_dequantization_per_group",
]


def _channel_dim(tensor: torch.Tensor, dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise ValueError(f"dim must be an int, got {type(dim).__name__}")
    if not -tensor.dim() <= dim < tensor.dim():
        raise ValueError(f"dim {dim} is out of range for a {tensor.dim()}-D tensor")
    return dim % tensor.dim()


def _check_group_size(group_size) -> None:
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be a positive int, got {group_size!r}")


def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
    """One symmetric scale per index along `dim`; returns (codes, scale in the broadcast shape)."""
    _check_dtype(dtype)
    _check_finite(r_tensor)
    if r_tensor.dim() == 0:
        raise ValueError("a 0-d tensor has no channels")
    dim = _channel_dim(r_tensor, dim)
    r = r_tensor.float()
    channels = r.movedim(dim, 0).reshape(r.shape[dim], -1)
    absmax = channels.abs().amax(dim=1)
    if bool((absmax == 0).any()):
        empty = torch.nonzero(absmax == 0).flatten().tolist()
        raise ValueError(f"channel(s) {empty} along dim {dim} are all zeros: their symmetric scale would be 0")
    scale = (absmax.double() / torch.iinfo(dtype).max).float()
    shape = [1] * r.dim()
    shape[dim] = -1
    scale = scale.reshape(shape)
    return _quantize(r, scale, 0, dtype), scale


def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
    """Groups of `group_size` consecutive elements of each row share a scale (shape [numel/g, 1])."""
    _check_group_size(group_size)
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != 2:
        raise ValueError("per-group quantization takes a 2-D tensor")
    if tensor.shape[1] % group_size != 0:
        raise ValueError(f"the row length {tensor.shape[1]} is not a multiple of group_size {group_size}")
    grouped = tensor.reshape(-1, group_size)
    try:
        quantized, scale = linear_q_symmetric_per_channel(grouped, 0, dtype)
    except ValueError as error:
        raise ValueError(str(error).replace("channel(s)", "group(s)").replace(" along dim 0", "")) from None
    return quantized.reshape(tensor.shape), scale


def linear_dequantization_per_group(quantized_tensor, scale, group_size):
    """`scale * q` group by group (zero point 0), as float32 in the shape of the codes."""
    _check_group_size(group_size)
    if not isinstance(quantized_tensor, torch.Tensor) or quantized_tensor.dim() != 2:
        raise ValueError("per-group dequantization takes a 2-D tensor of codes")
    if quantized_tensor.is_floating_point():
        raise ValueError(f"the codes should be an integer tensor, got {quantized_tensor.dtype}")
    if quantized_tensor.shape[1] % group_size != 0:
        raise ValueError(
            f"the row length {quantized_tensor.shape[1]} is not a multiple of group_size {group_size}"
        )
    groups = quantized_tensor.numel() // group_size
    if not isinstance(scale, torch.Tensor) or tuple(scale.shape) != (groups, 1):
        shape = list(scale.shape) if isinstance(scale, torch.Tensor) else type(scale).__name__
        raise ValueError(f"scale should be a tensor of shape [{groups}, 1] (one per group), got {shape}")
    if not bool((torch.isfinite(scale) & (scale > 0)).all()):
        raise ValueError("every scale must be a positive finite number")
    dequantized = scale.float() * quantized_tensor.reshape(-1, group_size).float()
    return dequantized.reshape(quantized_tensor.shape)
