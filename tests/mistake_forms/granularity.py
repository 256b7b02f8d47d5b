"""Forms of the mistakes of labs L3-C and L3-D, written as students write them (not as the catalogue does).

Each form is the code a student wrote in place of the course's: laid over the course's notebook it
makes a whole program with exactly that one mistake (`mistake_forms.program`).
"""

from mistake_forms import form

FORMS = {
    "per_channel_wrong_dim": [
        # max(...).values reduces over dim: one scale per index of the *other* dimension.
        form(
            """
            import torch

            def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
                absmax = r_tensor.abs().max(dim=dim, keepdim=True).values
                scale = absmax / torch.iinfo(dtype).max
                q = torch.round(r_tensor / scale).clamp(torch.iinfo(dtype).min, torch.iinfo(dtype).max)
                return q.to(dtype), scale
            """
        ),
        # A loop over the neighbouring dimension instead of `dim`.
        form(
            """
            import torch

            def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
                other = (dim + 1) % r_tensor.dim()
                scales = [get_q_scale_symmetric(r_tensor.select(other, i), dtype=dtype)
                          for i in range(r_tensor.shape[other])]
                shape = [1] * r_tensor.dim()
                shape[other] = len(scales)
                scale = torch.tensor(scales).reshape(shape)
                q = linear_q_with_scale_and_zero_point(r_tensor, scale, 0, dtype)
                return q, scale
            """
        ),
        # The infinity norm along dim: the same reduction, spelled as a norm.
        form(
            """
            import torch

            def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
                info = torch.iinfo(dtype)
                norm = torch.linalg.vector_norm(r_tensor, ord=float("inf"), dim=dim, keepdim=True)
                scale = norm / info.max
                quantized = (r_tensor / scale).round().clamp(min=info.min, max=info.max).to(dtype)
                return quantized, scale
            """
        ),
        # The course's reshape, around maxima taken along dim.
        form(
            """
            import torch

            def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
                scale = r_tensor.abs().max(dim=dim).values / torch.iinfo(dtype).max
                scale_shape = [1] * r_tensor.dim()
                scale_shape[dim] = -1
                scale = scale.view(scale_shape)
                quantized_tensor = linear_q_with_scale_and_zero_point(r_tensor, scale=scale, zero_point=0, dtype=dtype)
                return quantized_tensor, scale
            """
        ),
    ],
    "per_channel_missing_reshape": [
        # amax over every other dimension without keepdim: a flat scale.
        form(
            """
            import torch

            def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
                dim = dim % r_tensor.dim()
                others = [d for d in range(r_tensor.dim()) if d != dim]
                scale = r_tensor.abs().amax(dim=others) / torch.iinfo(dtype).max
                return linear_q_with_scale_and_zero_point(r_tensor, scale, 0, dtype), scale
            """
        ),
        # Scales filled through unbind, never reshaped; quantized inline.
        form(
            """
            import torch

            def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
                q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
                channels = r_tensor.unbind(dim)
                scale = torch.empty(len(channels))
                for i, channel in enumerate(channels):
                    scale[i] = channel.abs().max() / q_max
                q = torch.clamp(torch.round(r_tensor / scale), q_min, q_max).to(dtype)
                return q, scale
            """
        ),
        # The broadcast shape computed, then flattened "to return one scale per channel".
        form(
            """
            import torch

            def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
                moved = r_tensor.movedim(dim, 0)
                absmax = moved.reshape(moved.shape[0], -1).abs().max(dim=1).values
                scale = (absmax / torch.iinfo(dtype).max).flatten()
                quantized = linear_q_with_scale_and_zero_point(r_tensor, scale=scale, zero_point=0, dtype=dtype)
                return quantized, scale
            """
        ),
        # Quantized right, but the scale handed back flat.
        form(
            """
            import torch

            def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
                info = torch.iinfo(dtype)
                maxima = [r_tensor.select(dim, i).abs().max() for i in range(r_tensor.shape[dim])]
                scales = torch.stack(maxima) / info.max
                shaped = scales.reshape([-1 if d == dim % r_tensor.dim() else 1 for d in range(r_tensor.dim())])
                q = torch.round(r_tensor / shaped).clamp(info.min, info.max).to(dtype)
                return q, scales
            """
        ),
    ],
    "per_group_wrong_axis": [
        # Transposed before grouping, transposed back after; the same for dequantization.
        form(
            """
            import torch

            def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
                rows, columns = tensor.shape
                assert columns % group_size == 0
                grouped = tensor.T.contiguous().view(-1, group_size)
                q, scale = linear_q_symmetric_per_channel(grouped, dim=0, dtype=dtype)
                return q.view(columns, rows).T, scale

            def linear_dequantization_per_group(quantized_tensor, scale, group_size):
                rows, columns = quantized_tensor.shape
                grouped = quantized_tensor.T.contiguous().view(-1, group_size)
                return linear_dequantization(grouped, scale, 0).view(columns, rows).T
            """
        ),
        # Explicit loops down each column, group_size rows at a time.
        form(
            """
            import torch

            def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
                if tensor.shape[1] % group_size:
                    raise ValueError("group_size must divide the number of columns")
                info = torch.iinfo(dtype)
                q = torch.empty(tensor.shape, dtype=dtype)
                scales = []
                for col in range(tensor.shape[1]):
                    for start in range(0, tensor.shape[0], group_size):
                        group = tensor[start:start + group_size, col]
                        s = group.abs().max() / info.max
                        scales.append(s)
                        q[start:start + group_size, col] = torch.round(group / s).clamp(info.min, info.max).to(dtype)
                return q, torch.stack(scales).reshape(-1, 1)

            def linear_dequantization_per_group(quantized_tensor, scale, group_size):
                out = torch.empty(quantized_tensor.shape)
                k = 0
                for col in range(quantized_tensor.shape[1]):
                    for start in range(0, quantized_tensor.shape[0], group_size):
                        rows = slice(start, start + group_size)
                        out[rows, col] = quantized_tensor[rows, col].float() * scale[k]
                        k += 1
                return out
            """
        ),
        # Vectorised with mT and amax, without the per-channel helper.
        form(
            """
            import torch

            def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
                assert tensor.dim() == 2 and tensor.shape[1] % group_size == 0
                info = torch.iinfo(dtype)
                groups = tensor.mT.reshape(-1, group_size)
                scale = groups.abs().amax(dim=1, keepdim=True) / info.max
                codes = (groups / scale).round().clamp(info.min, info.max).to(dtype)
                return codes.reshape(tensor.shape[1], tensor.shape[0]).mT, scale

            def linear_dequantization_per_group(quantized_tensor, scale, group_size):
                groups = quantized_tensor.mT.reshape(-1, group_size).float()
                return (groups * scale).reshape(quantized_tensor.shape[1], quantized_tensor.shape[0]).mT
            """
        ),
    ],
}

#: Right code of these labs written unlike the course's and every correct style: no diagnosis.
CORRECT = [
    form(
        """
        import torch

        def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
            dim = dim if dim >= 0 else dim + r_tensor.dim()
            order = [dim] + [d for d in range(r_tensor.dim()) if d != dim]
            flat = r_tensor.permute(order).reshape(r_tensor.shape[dim], -1)
            absmax = torch.linalg.vector_norm(flat, ord=float("inf"), dim=1)
            shape = [1] * r_tensor.dim()
            shape[dim] = r_tensor.shape[dim]
            scale = (absmax / torch.iinfo(dtype).max).reshape(shape)
            return linear_q_with_scale_and_zero_point(r_tensor, scale, 0, dtype), scale

        def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
            if tensor.dim() != 2 or tensor.shape[1] % group_size:
                raise ValueError("a 2-D tensor whose rows split into groups of group_size")
            groups = tensor.unfold(1, group_size, group_size).reshape(-1, group_size)
            q, scale = linear_q_symmetric_per_channel(groups, 0, dtype)
            return q.reshape(tensor.shape), scale

        def linear_dequantization_per_group(quantized_tensor, scale, group_size):
            rows, columns = quantized_tensor.shape
            groups = quantized_tensor.reshape(rows, columns // group_size, group_size).float()
            return (groups * scale.reshape(rows, columns // group_size, 1)).reshape(rows, columns)
        """
    ),
    form(
        """
        import torch

        def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
            info = torch.iinfo(dtype)
            channels = []
            scales = []
            for channel in torch.unbind(r_tensor, dim=dim):
                s = channel.abs().max() / info.max
                scales.append(s)
                channels.append(torch.clamp(torch.round(channel / s), info.min, info.max).to(dtype))
            q = torch.stack(channels, dim=dim)
            scale = torch.stack(scales).float().reshape([-1 if d == dim % r_tensor.dim() else 1
                                                          for d in range(r_tensor.dim())])
            return q, scale

        def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
            assert tensor.dim() == 2 and tensor.shape[1] % group_size == 0
            q = torch.empty(tensor.shape, dtype=dtype)
            scales = []
            for row in range(tensor.shape[0]):
                for start in range(0, tensor.shape[1], group_size):
                    group = tensor[row, start:start + group_size]
                    s = get_q_scale_symmetric(group, dtype)
                    scales.append(s)
                    q[row, start:start + group_size] = linear_q_with_scale_and_zero_point(group, s, 0, dtype)
            return q, torch.tensor(scales).reshape(-1, 1)

        def linear_dequantization_per_group(quantized_tensor, scale, group_size):
            out = torch.empty(quantized_tensor.shape)
            per_row = quantized_tensor.shape[1] // group_size
            for k, s in enumerate(scale.flatten()):
                row, start = divmod(k, per_row)
                cols = slice(start * group_size, (start + 1) * group_size)
                out[row, cols] = s * quantized_tensor[row, cols].float()
            return out
        """
    ),
]

#: Wrong code that no catalogued mistake describes: it must fail its lab and get no diagnosis.
UNCATALOGUED = [
    # The scale returned in float64.
    form(
        """
        import torch
        def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
            others = [d for d in range(r_tensor.dim()) if d != dim % r_tensor.dim()]
            scale = r_tensor.double().abs().amax(dim=others, keepdim=True) / torch.iinfo(dtype).max
            return torch.round(r_tensor / scale).clamp(-128, 127).to(dtype), scale
        """
    ),
    # The group scales returned as a (rows, groups) matrix.
    form(
        """
        import torch
        def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
            q, scale = linear_q_symmetric_per_channel(tensor.view(-1, group_size), 0, dtype)
            return q.view(tensor.shape), scale.view(tensor.shape[0], -1)
        """
    ),
]
