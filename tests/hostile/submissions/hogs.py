"""Correct functions; while loading, a fork bomb of memory hogs: more memory in all than the cap, though
no process asks for more than the cap on its own, and then one process that does. Only a cgroup holds the
sum (docs/sandbox.md, "Without a cgroup"); per-process caps hold the one that asks for too much alone."""

import json
import os
import time

import torch

MiB = 1024 * 1024


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    info = torch.iinfo(dtype)
    return torch.clamp(torch.round(tensor / scale + zero_point), info.min, info.max).to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    return scale * (quantized_tensor.float() - zero_point)


def hog(size):
    pid = os.fork()
    if pid == 0:
        try:
            hoard = b"x" * size  # every page written
            time.sleep(3)
            os._exit(0 if len(hoard) == size else 1)
        except MemoryError:
            os._exit(3)
    return pid


def outcome(status):
    if os.WIFSIGNALED(status):
        return "killed"
    return "finished" if os.WEXITSTATUS(status) == 0 else "refused"


alone = outcome(os.waitpid(hog(2560 * MiB), 0)[1])  # more than the 2 GiB cap on its own
together = [outcome(os.waitpid(pid, 0)[1]) for pid in [hog(640 * MiB) for _ in range(4)]]  # 2.5 GiB in all
raise RuntimeError("PROBE " + json.dumps({"alone": alone, "together": together}))
