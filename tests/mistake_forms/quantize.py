"""Forms of the mistakes of labs L2-A to L3-B (docs/course.md §5), unlike the catalogue's code."""

from mistake_forms import form

FORMS = {
    "round_truncate_cast": [
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                info = torch.iinfo(dtype)
                return torch.trunc(tensor / scale + zero_point).clamp(info.min, info.max).to(dtype)
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                shifted = tensor.double() / scale + zero_point
                shifted = torch.clamp(shifted, min=torch.iinfo(dtype).min, max=torch.iinfo(dtype).max)
                return shifted.long().to(dtype)
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
                scales = torch.as_tensor(scale, dtype=tensor.dtype).expand_as(tensor).flatten().tolist()
                values = [min(max(int(v / s + zero_point), q_min), q_max)
                          for v, s in zip(tensor.flatten().tolist(), scales)]
                return torch.tensor(values, dtype=dtype).reshape(tensor.shape)
            """
        ),
    ],
    "round_floor": [
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                q = torch.floor(tensor / scale + zero_point)
                return torch.clip(q, torch.iinfo(dtype).min, torch.iinfo(dtype).max).to(dtype)
            """
        ),
        form(
            """
            import math

            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                info = torch.iinfo(dtype)
                scales = torch.broadcast_to(torch.as_tensor(scale), tensor.shape).reshape(-1).tolist()
                codes = [math.floor(v / s + zero_point) for v, s in zip(tensor.reshape(-1).tolist(), scales)]
                codes = [info.min if c < info.min else info.max if c > info.max else c for c in codes]
                return torch.tensor(codes).reshape(tensor.shape).to(dtype)
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                x = tensor.double() / scale
                x.add_(zero_point).floor_()
                return x.clamp_(torch.iinfo(dtype).min, torch.iinfo(dtype).max).to(dtype)
            """
        ),
    ],
    "round_half_away": [
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                x = tensor / scale + zero_point
                q = torch.where(x >= 0, torch.floor(x + 0.5), torch.ceil(x - 0.5))
                return q.clamp(torch.iinfo(dtype).min, torch.iinfo(dtype).max).to(dtype)
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                info = torch.iinfo(dtype)
                scale = torch.as_tensor(scale).expand(tensor.shape).flatten()
                out = []
                for i, v in enumerate(tensor.flatten().tolist()):
                    x = v / scale[i].item() + zero_point
                    q = int(x + 0.5) if x >= 0 else int(x - 0.5)
                    out.append(max(info.min, min(info.max, q)))
                return torch.tensor(out, dtype=dtype).view(tensor.shape)
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                q = (tensor / scale + (zero_point + 0.5)).floor()
                return torch.clamp(q, min=torch.iinfo(dtype).min, max=torch.iinfo(dtype).max).to(dtype)
            """
        ),
    ],
    "round_before_zero_point": [
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                q = tensor.div(scale).round().add(zero_point)
                q = torch.maximum(q, torch.tensor(float(torch.iinfo(dtype).min)))
                q = torch.minimum(q, torch.tensor(float(torch.iinfo(dtype).max)))
                return q.to(dtype)
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                q = torch.round(tensor / scale).to(torch.int32) + zero_point
                return q.clamp(torch.iinfo(dtype).min, torch.iinfo(dtype).max).to(dtype)
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                lo, hi = torch.iinfo(dtype).min, torch.iinfo(dtype).max
                codes = [min(hi, max(lo, round(v / scale) + zero_point)) for v in tensor.flatten().tolist()]
                return torch.tensor(codes, dtype=dtype).reshape(tensor.shape)
            """
        ),
    ],
    "missing_clamp": [
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                return (tensor / scale + zero_point).round().int().to(dtype)
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                rounded = torch.round(tensor / scale + zero_point)
                return rounded.clamp(min=torch.iinfo(dtype).min).to(dtype)
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                rounded = torch.round(tensor.double() / scale + zero_point)
                rounded = torch.minimum(rounded, torch.tensor(float(torch.iinfo(dtype).max), dtype=torch.float64))
                return rounded.long().to(dtype)
            """
        ),
    ],
    "zero_point_subtracted": [
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                q = torch.round((tensor - zero_point * scale) / scale)
                return q.clamp(torch.iinfo(dtype).min, torch.iinfo(dtype).max).to(dtype)
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                q = torch.round(tensor / scale) - zero_point
                return torch.clamp(q, torch.iinfo(dtype).min, torch.iinfo(dtype).max).to(dtype)
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                info = torch.iinfo(dtype)
                values = [round(v / scale - zero_point) for v in tensor.flatten().tolist()]
                return torch.tensor(values).clamp(info.min, info.max).to(dtype).reshape(tensor.shape)
            """
        ),
    ],
    "dequant_no_float_cast": [
        form(
            """
            def linear_dequantization(quantized_tensor, scale, zero_point):
                return (quantized_tensor - zero_point) * scale
            """
        ),
        form(
            """
            def linear_dequantization(quantized_tensor, scale, zero_point):
                return torch.sub(quantized_tensor, zero_point).float() * scale
            """
        ),
        form(
            """
            def linear_dequantization(quantized_tensor, scale, zero_point):
                shifted = quantized_tensor.clone()
                shifted -= zero_point
                return scale * shifted
            """
        ),
    ],
    "dequant_sign": [
        form(
            """
            def linear_dequantization(quantized_tensor, scale, zero_point):
                return (quantized_tensor.to(torch.float32) + zero_point) * scale
            """
        ),
        form(
            """
            def linear_dequantization(quantized_tensor, scale, zero_point):
                return scale * quantized_tensor.float() + zero_point
            """
        ),
        form(
            """
            def linear_dequantization(quantized_tensor, scale, zero_point):
                return torch.add(quantized_tensor.double(), zero_point).mul(scale).float()
            """
        ),
    ],
    "scale_inverted": [
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                info = torch.iinfo(dtype)
                r_min, r_max = (v.item() for v in torch.aminmax(tensor))
                scale = (info.max - info.min) / (r_max - r_min)
                zero_point = min(max(info.min - r_min / scale, info.min), info.max)
                return scale, int(round(zero_point))
            """
        ),
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
                r_min, r_max = tensor.min().item(), tensor.max().item()
                scale = 1.0 / ((r_max - r_min) / (q_max - q_min))
                zero_point = q_min - r_min / scale
                if zero_point < q_min:
                    return scale, q_min
                if zero_point > q_max:
                    return scale, q_max
                return scale, int(round(zero_point))
            """
        ),
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                info = torch.iinfo(dtype)
                levels = 2 ** info.bits - 1
                scale = levels / (tensor.max() - tensor.min()).item()
                zero_point = info.min - tensor.min().item() / scale
                zero_point = int(torch.tensor(zero_point).clamp(info.min, info.max).round().item())
                return scale, zero_point
            """
        ),
    ],
    "zero_point_truncated": [
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
                r_min, r_max = tensor.min().item(), tensor.max().item()
                scale = (r_max - r_min) / (q_max - q_min)
                return scale, int(min(max(q_min - r_min / scale, q_min), q_max))
            """
        ),
        form(
            """
            import math

            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                info = torch.iinfo(dtype)
                r_min, r_max = float(tensor.min()), float(tensor.max())
                scale = (r_max - r_min) / (info.max - info.min)
                zero_point = info.min - r_min / scale
                if zero_point < info.min:
                    zero_point = info.min
                elif zero_point > info.max:
                    zero_point = info.max
                return scale, math.trunc(zero_point)
            """
        ),
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                info = torch.iinfo(dtype)
                lo, hi = torch.aminmax(tensor.double())
                scale = ((hi - lo) / (info.max - info.min)).item()
                zero_point = torch.clamp(info.min - lo / scale, info.min, info.max).to(torch.int64)
                return scale, zero_point.item()
            """
        ),
    ],
    "zero_point_not_rounded": [
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
                r_min, r_max = tensor.min().item(), tensor.max().item()
                scale = (r_max - r_min) / (q_max - q_min)
                return scale, min(max(q_min - r_min / scale, q_min), q_max)
            """
        ),
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                info = torch.iinfo(dtype)
                t = tensor.double()
                scale = (t.max() - t.min()) / (info.max - info.min)
                zero_point = torch.clamp(info.min - t.min() / scale, info.min, info.max)
                return scale.item(), zero_point.item()
            """
        ),
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
                r_min, r_max = tensor.min().item(), tensor.max().item()
                scale = (r_max - r_min) / (q_max - q_min)
                zero_point = q_min - (r_min / scale)
                if zero_point < q_min:
                    zero_point = q_min
                if zero_point > q_max:
                    zero_point = q_max
                return scale, float(zero_point)
            """
        ),
    ],
    "zero_point_not_clipped": [
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
                r_min, r_max = tensor.min().item(), tensor.max().item()
                scale = (r_max - r_min) / (q_max - q_min)
                return scale, int(round(q_min - r_min / scale))
            """
        ),
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                info = torch.iinfo(dtype)
                r_min, r_max = torch.aminmax(tensor)
                scale = ((r_max - r_min) / (info.max - info.min)).item()
                return scale, int((info.min - r_min.item() / scale).__round__())
            """
        ),
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                bits = torch.iinfo(dtype)
                low, high = float(tensor.min()), float(tensor.max())
                scale = (high - low) / (bits.max - bits.min)
                zero_point = torch.round(torch.tensor(bits.min - low / scale, dtype=torch.float64))
                return scale, int(zero_point)
            """
        ),
    ],
    "zero_point_clip_to_qmin": [
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
                r_min, r_max = tensor.min().item(), tensor.max().item()
                scale = (r_max - r_min) / (q_max - q_min)
                zero_point = q_min - r_min / scale
                if not (q_min <= zero_point <= q_max):
                    return scale, q_min
                return scale, int(round(zero_point))
            """
        ),
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                info = torch.iinfo(dtype)
                r_min, r_max = float(tensor.min()), float(tensor.max())
                scale = (r_max - r_min) / (info.max - info.min)
                z = info.min - r_min / scale
                z = info.min if z > info.max or z < info.min else int(round(z))
                return scale, z
            """
        ),
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
                lo, hi = torch.aminmax(tensor)
                scale = (hi - lo).item() / (q_max - q_min)
                zero_point = int(round(q_min - lo.item() / scale))
                if zero_point > q_max or zero_point < q_min:
                    zero_point = q_min
                return scale, zero_point
            """
        ),
    ],
    "int8_range_hardcoded": [
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                q_min, q_max = -128, 127
                r_min, r_max = tensor.min().item(), tensor.max().item()
                scale = (r_max - r_min) / (q_max - q_min)
                zero_point = q_min - r_min / scale
                zero_point = int(round(min(max(zero_point, q_min), q_max)))
                return scale, zero_point
            """
        ),
        form(
            """
            def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                q = torch.round(tensor / scale + zero_point)
                q[q > 127] = 127
                q[q < -128] = -128
                return q.to(dtype)
            """
        ),
        form(
            """
            def get_q_scale_symmetric(tensor, dtype=torch.int8):
                return torch.max(torch.abs(tensor)).item() / torch.iinfo(torch.int8).max
            """
        ),
        form(
            """
            def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                info = torch.iinfo(torch.int8)
                r_min, r_max = (v.item() for v in torch.aminmax(tensor))
                scale = (r_max - r_min) / (info.max - info.min)
                z = info.min - r_min / scale
                return scale, info.min if z < info.min else info.max if z > info.max else int(round(z))
            """
        ),
    ],
    "sym_scale_128": [
        form(
            """
            def get_q_scale_symmetric(tensor, dtype=torch.int8):
                return tensor.abs().max().item() / 128
            """
        ),
        form(
            """
            def get_q_scale_symmetric(tensor, dtype=torch.int8):
                r_max = torch.max(torch.abs(tensor)).item()
                return r_max / (torch.iinfo(dtype).max + 1)
            """
        ),
        form(
            """
            def get_q_scale_symmetric(tensor, dtype=torch.int8):
                bits = torch.iinfo(dtype).bits
                return float(tensor.abs().amax()) / 2 ** (bits - 1)
            """
        ),
        form(
            """
            def get_q_scale_symmetric(tensor, dtype=torch.int8):
                return tensor.abs().max().item() / abs(torch.iinfo(dtype).min)
            """
        ),
    ],
    "sym_scale_127_5": [
        form(
            """
            def get_q_scale_symmetric(tensor, dtype=torch.int8):
                return tensor.abs().max().item() / 127.5
            """
        ),
        form(
            """
            def get_q_scale_symmetric(tensor, dtype=torch.int8):
                info = torch.iinfo(dtype)
                return 2 * tensor.abs().max().item() / (info.max - info.min)
            """
        ),
        form(
            """
            def get_q_scale_symmetric(tensor, dtype=torch.int8):
                half_range = (torch.iinfo(dtype).max - torch.iinfo(dtype).min) / 2
                return (tensor.abs().amax() / half_range).item()
            """
        ),
    ],
    "sym_scale_no_abs": [
        form(
            """
            def get_q_scale_symmetric(tensor, dtype=torch.int8):
                return tensor.max().item() / torch.iinfo(dtype).max
            """
        ),
        form(
            """
            def get_q_scale_symmetric(tensor, dtype=torch.int8):
                q_max = torch.iinfo(dtype).max
                return torch.max(tensor).item() / q_max
            """
        ),
        form(
            """
            def get_q_scale_symmetric(tensor, dtype=torch.int8):
                return max(tensor.flatten().tolist()) / torch.iinfo(dtype).max
            """
        ),
    ],
    "dtype_not_forwarded": [
        # The example: the dtype reaches neither helper, so uint8 asked gives int8 codes.
        form(
            """
            def linear_quantization(tensor, dtype=torch.int8):
                scale, zero_point = get_q_scale_and_zero_point(tensor)
                quantized_tensor = linear_q_with_scale_and_zero_point(tensor, scale, zero_point)
                return quantized_tensor, scale, zero_point
            """
        ),
        form(
            """
            def linear_q_symmetric(tensor, dtype=torch.int8):
                scale = get_q_scale_symmetric(tensor)
                return linear_q_with_scale_and_zero_point(tensor, scale, 0), scale
            """
        ),
        form(
            """
            def linear_q_symmetric(tensor, dtype=torch.int8):
                scale = get_q_scale_symmetric(tensor, dtype=dtype)
                q = linear_q_with_scale_and_zero_point(tensor, scale=scale, zero_point=0)
                return q, scale
            """
        ),
        form(
            """
            def linear_quantization(tensor, dtype=torch.int8):
                parameters = get_q_scale_and_zero_point(tensor)
                return (linear_q_with_scale_and_zero_point(tensor, *parameters, dtype=dtype), *parameters)
            """
        ),
    ],
    "error_metric_mae": [
        form(
            """
            def quantization_error(tensor, dequantized_tensor):
                return torch.mean(torch.abs(dequantized_tensor - tensor))
            """
        ),
        form(
            """
            import torch.nn.functional as F

            def quantization_error(tensor, dequantized_tensor):
                return F.l1_loss(dequantized_tensor, tensor)
            """
        ),
        form(
            """
            def quantization_error(tensor, dequantized_tensor):
                return (tensor - dequantized_tensor).abs().sum() / tensor.numel()
            """
        ),
    ],
    "error_metric_sum": [
        form(
            """
            def quantization_error(tensor, dequantized_tensor):
                return ((dequantized_tensor - tensor) ** 2).sum()
            """
        ),
        form(
            """
            import torch.nn.functional as F

            def quantization_error(tensor, dequantized_tensor):
                return F.mse_loss(dequantized_tensor, tensor, reduction="sum")
            """
        ),
        form(
            """
            def quantization_error(tensor, dequantized_tensor):
                total = torch.zeros(())
                for r, d in zip(tensor.flatten(), dequantized_tensor.flatten()):
                    total += (r - d) * (r - d)
                return total
            """
        ),
    ],
    "error_metric_rmse": [
        form(
            """
            def quantization_error(tensor, dequantized_tensor):
                return torch.sqrt(torch.mean((dequantized_tensor - tensor) ** 2))
            """
        ),
        form(
            """
            import torch.nn.functional as F

            def quantization_error(tensor, dequantized_tensor):
                return F.mse_loss(dequantized_tensor, tensor).sqrt()
            """
        ),
        form(
            """
            import math

            def quantization_error(tensor, dequantized_tensor):
                return torch.linalg.vector_norm(dequantized_tensor - tensor) / math.sqrt(tensor.numel())
            """
        ),
    ],
}

#: Right code written unlike the course's and unlike `tests/mistakes.py`'s styles: no diagnosis.
CORRECT = [
    form(
        """
        def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
            info = torch.iinfo(dtype)
            scales = torch.as_tensor(scale, dtype=torch.float64).expand(tensor.shape).flatten().tolist()
            codes = [min(info.max, max(info.min, round(v / s + zero_point)))
                     for v, s in zip(tensor.flatten().tolist(), scales)]
            return torch.tensor(codes, dtype=dtype).reshape(tensor.shape)

        def linear_dequantization(quantized_tensor, scale, zero_point):
            return torch.mul(quantized_tensor.double().sub(zero_point), scale).float()
        """
    ),
    form(
        """
        def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
            info = torch.iinfo(dtype)
            x = torch.round(tensor.double() * (1.0 / scale) + zero_point)
            return torch.where(x > info.max, info.max, torch.where(x < info.min, info.min, x)).to(dtype)

        def quantization_error(tensor, dequantized_tensor):
            return torch.nn.MSELoss()(dequantized_tensor, tensor)
        """
    ),
    form(
        """
        import numpy as np

        def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
            info = np.iinfo(str(dtype).replace("torch.", ""))
            values = tensor.numpy().astype(np.float64)
            scale = float((values.max() - values.min()) / (info.max - info.min))
            zero_point = int(np.clip(np.round(info.min - values.min() / scale), info.min, info.max))
            return scale, zero_point

        def get_q_scale_symmetric(tensor, dtype=torch.int8):
            return float(np.abs(tensor.numpy()).max()) / float(np.iinfo(str(dtype).replace("torch.", "")).max)
        """
    ),
    form(
        """
        def linear_quantization(tensor, dtype=torch.int8):
            info = torch.iinfo(dtype)
            r_min, r_max = tensor.min().item(), tensor.max().item()
            scale = (r_max - r_min) / (info.max - info.min)
            zero_point = info.min - r_min / scale
            zero_point = min(max(zero_point, info.min), info.max)
            zero_point = zero_point if zero_point in (info.min, info.max) else int(round(zero_point))
            codes = torch.round(tensor / scale + zero_point).clamp(info.min, info.max).to(dtype)
            return codes, scale, zero_point

        def linear_q_symmetric(tensor, dtype=torch.int8):
            q_max = torch.iinfo(dtype).max
            scale = tensor.abs().max().item() / q_max
            codes = torch.clamp(torch.round(tensor / scale), torch.iinfo(dtype).min, q_max).to(dtype)
            return codes, scale
        """
    ),
    form(
        """
        def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
            info = torch.iinfo(dtype)
            low, high = torch.aminmax(tensor)
            scale = (high - low) / (info.max - info.min)
            zero_point = (info.min - low / scale).clamp(info.min, info.max).round().int()
            return scale.item(), zero_point.item()

        def quantization_error(tensor, dequantized_tensor):
            difference = (tensor.double() - dequantized_tensor.double())
            return (difference * difference).sum().div(tensor.numel()).float()
        """
    ),
]
