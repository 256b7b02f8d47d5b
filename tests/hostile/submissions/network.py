"""Correct functions; it also tries to reach the network in every way it knows."""

import json
import socket

import torch


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    info = torch.iinfo(dtype)
    return torch.clamp(torch.round(tensor / scale + zero_point), info.min, info.max).to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    try:
        socket.create_connection(("127.0.0.1", 39217), timeout=1).sendall(b"LEAK from a function")
    except OSError:
        pass
    return scale * (quantized_tensor.float() - zero_point)


reached = []
for host, port in [("127.0.0.1", 39217), ("1.1.1.1", 53), ("8.8.8.8", 443), ("example.com", 80)]:
    try:
        with socket.create_connection((host, port), timeout=2) as connection:
            connection.sendall(b"LEAK")
        reached.append(f"{host}:{port}")
    except OSError:
        pass
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"LEAK", ("1.1.1.1", 53))
    reached.append("udp 1.1.1.1:53")
except OSError:
    pass
try:
    socket.getaddrinfo("example.com", 80)
    reached.append("dns")
except OSError:
    pass
raise RuntimeError("PROBE " + json.dumps({"reached": reached}))
