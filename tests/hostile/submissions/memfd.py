"""Correct functions; while loading, it holds more memory than the cap in memory files (memfd) that it
never maps, so no address space counts them. Only a cgroup holds that (docs/sandbox.md, "Without a
cgroup"); each file stays under the size any one file may reach (--max-output)."""

import json
import os

import torch

MiB = 1024 * 1024
FILE = 32 * MiB

files, held = [], 0
block = b"x" * (8 * MiB)
while held < 2560 * MiB:  # 2.5 GiB, above the 2 GiB cap
    fd = os.memfd_create("hoard")
    for _ in range(FILE // len(block)):
        os.write(fd, block)
    files.append(fd)
    held += FILE


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    info = torch.iinfo(dtype)
    return torch.clamp(torch.round(tensor / scale + zero_point), info.min, info.max).to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    return scale * (quantized_tensor.float() - zero_point)


for fd in files:
    os.close(fd)
raise RuntimeError("PROBE " + json.dumps({"held_mib": held // MiB, "files": len(files)}))
