"""Lab L5-B, Quantization in Depth. Bob's solution, with bit tricks instead of loops."""

import torch


def pack_weights(uint8tensor, bits):
    per_byte = 8 // bits
    if uint8tensor.shape[0] % per_byte != 0:
        raise ValueError(f"{uint8tensor.shape[0]} values do not fill whole bytes of {per_byte}")
    rows = uint8tensor.reshape(-1, per_byte)
    packed = torch.zeros(rows.shape[0], dtype=torch.uint8)
    for j in range(per_byte):
        packed = torch.bitwise_or(packed, torch.bitwise_left_shift(rows[:, j], bits * j))
    return packed


if __name__ == "__main__":
    print(pack_weights(torch.tensor([1, 0, 3, 2], dtype=torch.uint8), 2))
