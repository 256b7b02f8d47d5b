"""Asks for far more memory than the cap, at load time and in quantization; dequantization is right."""

import json

import torch

attempts = {}
for what, make in {
    "tensor 16 GiB": lambda: torch.ones(4 * 1024**3, dtype=torch.float32),
    "bytes 8 GiB": lambda: bytearray(8 * 1024**3),
}.items():
    try:
        make()
        attempts[what] = "allocated"
    except (MemoryError, RuntimeError) as error:
        attempts[what] = type(error).__name__


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    hoard = []
    while True:
        hoard.append(torch.ones(64 * 1024**2, dtype=torch.float32))


def linear_dequantization(quantized_tensor, scale, zero_point):
    return scale * (quantized_tensor.float() - zero_point)


raise RuntimeError("PROBE " + json.dumps(attempts))
