"""Labs L2-A to L3-B: linear quantization per tensor, asymmetric and symmetric, and its error.

The helpers `_check_dtype`, `_check_finite` and `_quantize` serve the later labs' modules too.
"""

from __future__ import annotations

import torch

__all__ = [
    "linear_q_with_scale_and_zero_point",
    "linear_dequantization",
    "get_q_scale_and_zero_point",
    "linear_quantization",
    "get_q_scale_symmetric",
    "linear_q_symmetric",
    "quantization_error",
]

# int32 is refused: its q_max does not survive the float32 clamp (2**31 - 1 rounds up, then wraps).
_INTEGER_DTYPES = (torch.int8, torch.uint8, torch.int16)


def _check_dtype(dtype: torch.dtype) -> None:
    if dtype not in _INTEGER_DTYPES:
        raise ValueError(f"dtype must be torch.int8, torch.uint8 or torch.int16, got {dtype}")


def _check_finite(tensor: torch.Tensor) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"expected a torch.Tensor, got {type(tensor).__name__}")
    if tensor.numel() == 0:
        raise ValueError("cannot quantize an empty tensor")
    if not torch.isfinite(tensor).all():
        raise ValueError("cannot quantize a tensor that holds NaN or inf")


def _check_scale(scale) -> None:
    """A positive finite number, or a tensor of them that broadcasts (the later labs' per-channel scales)."""
    values = scale.detach() if isinstance(scale, torch.Tensor) else torch.tensor(float(scale), dtype=torch.float64)
    if values.numel() == 0 or not bool((torch.isfinite(values) & (values > 0)).all()):
        raise ValueError(f"scale must be a positive finite number, got {scale}")


# L2-A ---------------------------------------------------------------------------------------------

def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    """`tensor / scale + zero_point` -> round (half to even) -> clamp -> cast."""
    _check_dtype(dtype)
    _check_finite(tensor)
    _check_scale(scale)
    return _quantize(tensor, scale, zero_point, dtype)


def _quantize(tensor, scale, zero_point, dtype):
    """The quantization itself; `scale` may be a float or a float32 tensor that broadcasts."""
    scaled_and_shifted = tensor.float() / scale + zero_point
    rounded = torch.round(scaled_and_shifted)
    info = torch.iinfo(dtype)
    return rounded.clamp(info.min, info.max).to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    """`scale * (q.float() - zero_point)`: the float cast comes first so int8 never wraps."""
    _check_scale(scale)
    return scale * (quantized_tensor.float() - zero_point)


# L2-B ---------------------------------------------------------------------------------------------

def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
    """Asymmetric parameters as (Python float, Python int), computed in float64 from `.item()`."""
    _check_dtype(dtype)
    _check_finite(tensor)
    info = torch.iinfo(dtype)
    q_min, q_max = info.min, info.max
    r_min, r_max = tensor.min().item(), tensor.max().item()
    if r_max == r_min:
        raise ValueError("a constant tensor has no range: the asymmetric scale would be 0")
    scale = (r_max - r_min) / (q_max - q_min)
    zero_point = q_min - (r_min / scale)
    # Decision §3.1 (the L2-B notebook): clip below to q_min, above to q_max.
    if zero_point < q_min:
        zero_point = q_min
    elif zero_point > q_max:
        zero_point = q_max
    else:
        zero_point = int(round(zero_point))
    return scale, zero_point


def linear_quantization(tensor, dtype=torch.int8):
    """Returns (quantized tensor, scale, zero point); dtype is forwarded (decision §3.2)."""
    scale, zero_point = get_q_scale_and_zero_point(tensor, dtype=dtype)
    quantized = linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=dtype)
    return quantized, scale, zero_point


# L3-A / L3-B --------------------------------------------------------------------------------------

def get_q_scale_symmetric(tensor, dtype=torch.int8):
    """`max|r| / q_max` as a Python float; q_min is not used."""
    _check_dtype(dtype)
    _check_finite(tensor)
    r_max = tensor.abs().max().item()
    if r_max == 0:
        raise ValueError("an all-zero tensor has no scale in symmetric mode")
    return r_max / torch.iinfo(dtype).max


def linear_q_symmetric(tensor, dtype=torch.int8):
    """Symmetric quantization (zero point 0); dtype is forwarded (decision §3.2)."""
    scale = get_q_scale_symmetric(tensor, dtype=dtype)
    quantized = linear_q_with_scale_and_zero_point(tensor, scale=scale, zero_point=0, dtype=dtype)
    return quantized, scale


def quantization_error(tensor, dequantized_tensor):
    """Mean squared error, a 0-d float tensor."""
    if tensor.shape != dequantized_tensor.shape:
        raise ValueError(
            f"shapes differ: {tuple(tensor.shape)} and {tuple(dequantized_tensor.shape)}"
        )
    return (dequantized_tensor - tensor).abs().square().mean()
