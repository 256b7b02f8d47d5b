"""Forms of the mistakes of labs L5-B and L5-C, written as students write them (not as the catalogue does)."""

from mistake_forms import form

FORMS = {
    "pack_msb_first": [
        # Shifts counting down, vectorised.
        form(
            """
            import torch

            def pack_weights(uint8tensor, bits):
                per_byte = 8 // bits
                if uint8tensor.numel() % per_byte:
                    raise ValueError("the length must be a multiple of 8 // bits")
                shifts = torch.arange(8 - bits, -1, -bits, dtype=torch.uint8)
                return (uint8tensor.view(-1, per_byte) << shifts).sum(dim=1).to(torch.uint8)
            """
        ),
        # Python ints: shift what is there left, then add the next value.
        form(
            """
            import torch

            def pack_weights(uint8tensor, bits):
                values, per_byte = uint8tensor.tolist(), 8 // bits
                if len(values) % per_byte != 0:
                    raise ValueError(f"{len(values)} values do not fill whole bytes")
                packed = []
                for start in range(0, len(values), per_byte):
                    byte = 0
                    for value in values[start:start + per_byte]:
                        byte = (byte << bits) | value
                    packed.append(byte)
                return torch.tensor(packed, dtype=torch.uint8)
            """
        ),
        # Each byte's values flipped, then packed lowest bits first.
        form(
            """
            import torch

            def pack_weights(uint8tensor, bits):
                n = 8 // bits
                if uint8tensor.shape[0] % n:
                    raise ValueError("incomplete byte")
                groups = torch.flip(uint8tensor.reshape(-1, n), dims=[1])
                packed = torch.zeros(groups.shape[0], dtype=torch.uint8)
                for j in range(n):
                    packed |= groups[:, j] << (bits * j)
                return packed
            """
        ),
    ],
    "pack_wrong_shift": [
        # Shifted by the position j, vectorised.
        form(
            """
            import torch

            def pack_weights(uint8tensor, bits):
                per_byte = 8 // bits
                if len(uint8tensor) % per_byte:
                    raise ValueError("the length must be a multiple of 8 // bits")
                shifts = torch.arange(per_byte, dtype=torch.uint8)
                return (uint8tensor.reshape(-1, per_byte) << shifts).sum(dim=1).to(torch.uint8)
            """
        ),
        # Every value shifted by the same `bits`, with Python ints.
        form(
            """
            import torch

            def pack_weights(uint8tensor, bits):
                values = [int(v) for v in uint8tensor]
                per_byte = 8 // bits
                if len(values) % per_byte:
                    raise ValueError("not a whole number of bytes")
                out = []
                for i in range(0, len(values), per_byte):
                    byte = 0
                    for value in values[i:i + per_byte]:
                        byte |= value << bits
                    out.append(byte & 0xFF)
                return torch.tensor(out, dtype=torch.uint8)
            """
        ),
        # The shift of a value counted from 1: bits * (j + 1).
        form(
            """
            import torch

            def pack_weights(uint8tensor, bits):
                if uint8tensor.shape[0] * bits % 8 != 0:
                    raise ValueError("the input length must be a multiple of 8 // bits")
                per_byte = 8 // bits
                packed = torch.zeros(uint8tensor.shape[0] // per_byte, dtype=torch.uint8)
                for index, value in enumerate(uint8tensor):
                    j = index % per_byte
                    packed[index // per_byte] |= value << (bits * (j + 1))
                return packed
            """
        ),
    ],
    "unpack_no_mask": [
        # Shifted right, vectorised, never masked.
        form(
            """
            import torch

            def unpack_weights(uint8tensor, bits):
                shifts = torch.arange(0, 8, bits, dtype=torch.uint8)
                return (uint8tensor.unsqueeze(1) >> shifts).flatten()
            """
        ),
        # Python ints, never masked.
        form(
            """
            import torch

            def unpack_weights(uint8tensor, bits):
                values = []
                for byte in uint8tensor.tolist():
                    for j in range(8 // bits):
                        values.append(byte >> (bits * j))
                return torch.tensor(values, dtype=torch.uint8)
            """
        ),
        # Masked with a whole byte, which keeps everything.
        form(
            """
            import torch

            def unpack_weights(uint8tensor, bits):
                steps = 8 // bits
                shifts = (torch.arange(steps) * bits).repeat(uint8tensor.numel())
                spread = torch.bitwise_right_shift(uint8tensor.repeat_interleave(steps), shifts.to(torch.uint8))
                return torch.bitwise_and(spread, 0xFF)
            """
        ),
    ],
    "unpack_msb_first": [
        # Shifts counting down, vectorised.
        form(
            """
            import torch

            def unpack_weights(uint8tensor, bits):
                shifts = torch.arange(8 - bits, -1, -bits, dtype=torch.uint8)
                return ((uint8tensor.unsqueeze(1) >> shifts) & (2 ** bits - 1)).flatten()
            """
        ),
        # Python ints, reading from the top of the byte.
        form(
            """
            import torch

            def unpack_weights(uint8tensor, bits):
                mask = (1 << bits) - 1
                out = []
                for byte in uint8tensor.tolist():
                    for j in range(8 // bits):
                        out.append((byte >> (8 - bits * (j + 1))) & mask)
                return torch.tensor(out, dtype=torch.uint8)
            """
        ),
        # Read lowest bits first, then each byte's values flipped.
        form(
            """
            import torch

            def unpack_weights(uint8tensor, bits):
                steps = 8 // bits
                values = torch.stack([(uint8tensor >> (bits * j)) & (2 ** bits - 1) for j in range(steps)], dim=1)
                return values.flip(1).reshape(-1)
            """
        ),
    ],
}

#: Right code of these labs written unlike the course's and every correct style: no diagnosis.
CORRECT = [
    form(
        """
        import torch

        def pack_weights(uint8tensor, bits):
            per_byte = 8 // bits
            if uint8tensor.shape[0] % per_byte:
                raise ValueError("the length must be a multiple of 8 // bits")
            weights = torch.tensor([2 ** (bits * j) for j in range(per_byte)], dtype=torch.int32)
            return (uint8tensor.reshape(-1, per_byte).int() * weights).sum(dim=1).to(torch.uint8)

        def unpack_weights(uint8tensor, bits):
            per_byte, base = 8 // bits, 2 ** bits
            values = uint8tensor.int().unsqueeze(1) // torch.tensor([base ** j for j in range(per_byte)]) % base
            return values.flatten().to(torch.uint8)
        """
    ),
    form(
        """
        import torch

        def pack_weights(uint8tensor, bits):
            values = uint8tensor.tolist()
            per_byte = 8 // bits
            if len(values) % per_byte:
                raise ValueError("incomplete byte")
            out = []
            for i in range(0, len(values), per_byte):
                digits = "".join(format(v, f"0{bits}b") for v in reversed(values[i:i + per_byte]))
                out.append(int(digits, 2))
            return torch.tensor(out, dtype=torch.uint8)

        def unpack_weights(uint8tensor, bits):
            out = []
            for byte in uint8tensor.tolist():
                digits = format(byte, "08b")
                chunks = [digits[k:k + bits] for k in range(0, 8, bits)]
                out.extend(int(chunk, 2) for chunk in reversed(chunks))
            return torch.tensor(out, dtype=torch.uint8)
        """
    ),
]

#: Wrong code that no catalogued mistake describes: it must fail its lab and get no diagnosis.
UNCATALOGUED = [
    # Packed right, but returned as int64.
    form(
        """
        import torch
        def pack_weights(uint8tensor, bits):
            k = 8 // bits
            if uint8tensor.numel() % k: raise ValueError("x")
            return (uint8tensor.long().view(-1, k) << torch.arange(0, 8, bits)).sum(1)
        """
    ),
    # No ValueError for a length that does not fill whole bytes.
    form(
        """
        import torch
        def pack_weights(uint8tensor, bits):
            k = 8 // bits
            return (uint8tensor.view(-1, k) << torch.arange(0, 8, bits, dtype=torch.uint8)).sum(1).to(torch.uint8)
        """
    ),
]
