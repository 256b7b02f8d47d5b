"""Lab L5-C, Quantization in Depth. Bob's solutions, vectorised."""

import torch


def pack_weights(uint8tensor, bits):
    per_byte = 8 // bits
    if len(uint8tensor) % per_byte:
        raise ValueError("the length must be a multiple of 8 // bits")
    shifts = torch.arange(0, 8, bits, dtype=torch.uint8)
    return (uint8tensor.reshape(-1, per_byte) << shifts).sum(dim=1).to(torch.uint8)


def unpack_weights(uint8tensor, bits):
    shifts = torch.arange(0, 8, bits, dtype=torch.uint8)
    mask = (1 << bits) - 1
    return ((uint8tensor[:, None] >> shifts) & mask).reshape(-1)


if __name__ == "__main__":
    print(unpack_weights(torch.tensor([177, 255], dtype=torch.uint8), 2))
