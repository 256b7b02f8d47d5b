"""Submissions for the tests: correct styles, the catalogued mistakes (solutions/quant_mistakes), the stub.

- `CORRECT_STYLES`: ways of writing the functions that the course contract (docs/course.md §2, §3, §7)
  accepts: the course's own code, vectorised one-liners, float64 arithmetic inside, multiplying by
  the float32 reciprocal of the scale, torch's quantizers (`quantize_per_tensor`,
  `quantize_per_channel`, packing through `quint2x4`/`quint4x2`), and in-place arithmetic that
  mutates the inputs. The later labs' functions are written in the same styles (amax with
  keepdim, reshape into groups, shift-and-sum or Python-int bit tricks for packing).
  `styles_for(lab)` adds the lab's example `bob.py`, another student's style.
- `MISTAKES`: every catalogued mistake (see quant_mistakes), by key.
- `STUB`: every function of the course as handed out (raising NotImplementedError).

`student_env(...)` turns any of these into the dict of callables that otter would find in the
student's global environment.
"""

from __future__ import annotations

import textwrap

from grader.labs import EXAMPLES, Lab, every_function
from quant_mistakes import COURSE_LITERAL, MISTAKES
from quant_mistakes import source as mistake_source

__all__ = [
    "FUNCTIONS", "COURSE_LITERAL", "CORRECT_STYLES", "MISTAKES", "STUB", "styles_for", "student_env",
    "mistake_env", "mistake_source",
]

#: Every function or class of the course's labs.
FUNCTIONS = every_function()


def _src(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


# Correct implementations ---------------------------------------------------------------------------

VECTORISED = _src(
    """
    import torch
    import torch.nn.functional as F

    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        return torch.clamp(torch.round(tensor / scale + zero_point), torch.iinfo(dtype).min, torch.iinfo(dtype).max).to(dtype)

    def linear_dequantization(quantized_tensor, scale, zero_point):
        return (quantized_tensor.to(torch.float32) - zero_point) * scale

    def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
        info = torch.iinfo(dtype)
        r_min, r_max = torch.aminmax(tensor)
        scale = (r_max - r_min) / (info.max - info.min)
        zero_point = torch.clamp(info.min - r_min / scale, info.min, info.max).round()
        return scale.item(), int(zero_point.item())

    def linear_quantization(tensor, dtype=torch.int8):
        s, z = get_q_scale_and_zero_point(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, s, z, dtype), s, z

    def get_q_scale_symmetric(tensor, dtype=torch.int8):
        return tensor.abs().max().item() / torch.iinfo(dtype).max

    def linear_q_symmetric(tensor, dtype=torch.int8):
        s = get_q_scale_symmetric(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, s, 0, dtype), s

    def quantization_error(tensor, dequantized_tensor):
        return F.mse_loss(dequantized_tensor, tensor)

    def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
        others = [d for d in range(r_tensor.dim()) if d != dim % r_tensor.dim()]
        absmax = r_tensor.abs().amax(dim=others, keepdim=True) if others else r_tensor.abs()
        scale = absmax / torch.iinfo(dtype).max
        return linear_q_with_scale_and_zero_point(r_tensor, scale, 0, dtype), scale

    def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
        if tensor.dim() != 2 or tensor.shape[1] % group_size:
            raise ValueError("the row length must be a multiple of group_size")
        q, scale = linear_q_symmetric_per_channel(tensor.reshape(-1, group_size), 0, dtype)
        return q.reshape(tensor.shape), scale

    def linear_dequantization_per_group(quantized_tensor, scale, group_size):
        return (quantized_tensor.reshape(-1, group_size).float() * scale).reshape(quantized_tensor.shape)

    def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
        # one scale for the whole weight: it can multiply the output instead
        return (input @ (q_w.float() - z_w).T) * s_w

    def pack_weights(uint8tensor, bits):
        per_byte = 8 // bits
        if uint8tensor.numel() % per_byte:
            raise ValueError(f"length must be a multiple of {per_byte}")
        shifts = torch.arange(0, 8, bits, dtype=torch.uint8)
        return (uint8tensor.view(-1, per_byte) << shifts).sum(dim=1).to(torch.uint8)

    def unpack_weights(uint8tensor, bits):
        shifts = torch.arange(0, 8, bits, dtype=torch.uint8)
        return ((uint8tensor.unsqueeze(1) >> shifts) & (2**bits - 1)).flatten()
    """
)

#: Divides (and averages) in float64, then rounds; casts back to the asked-for dtype at the end.
FLOAT64_INSIDE = _src(
    """
    import math
    import torch

    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        info = torch.iinfo(dtype)
        x = tensor.double() / float(scale) + int(zero_point)
        return x.round().clamp(info.min, info.max).to(dtype)

    def linear_dequantization(quantized_tensor, scale, zero_point):
        return (float(scale) * (quantized_tensor.double() - zero_point)).float()

    def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
        info = torch.iinfo(dtype)
        t = tensor.double()
        r_min, r_max = float(t.min()), float(t.max())
        scale = (r_max - r_min) / (info.max - info.min)
        z = info.min - r_min / scale
        zero_point = int(min(max(round(z), info.min), info.max))
        return scale, zero_point

    def linear_quantization(tensor, dtype=torch.int8):
        scale, zero_point = get_q_scale_and_zero_point(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype), scale, zero_point

    def get_q_scale_symmetric(tensor, dtype=torch.int8):
        return float(tensor.double().abs().max()) / torch.iinfo(dtype).max

    def linear_q_symmetric(tensor, dtype=torch.int8):
        scale = get_q_scale_symmetric(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, 0, dtype), scale

    def quantization_error(tensor, dequantized_tensor):
        return (dequantized_tensor.double() - tensor.double()).pow(2).mean().float()

    def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
        info = torch.iinfo(dtype)
        moved = r_tensor.double().movedim(dim, 0)
        absmax = moved.reshape(moved.shape[0], -1).abs().max(dim=1).values
        shape = [1] * r_tensor.dim()
        shape[dim] = -1
        scale = (absmax / info.max).float().reshape(shape)
        q = (r_tensor.double() / scale.double()).round().clamp(info.min, info.max).to(dtype)
        return q, scale

    def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
        rows, columns = tensor.shape
        if columns % group_size != 0:
            raise ValueError(f"{columns} columns cannot be cut into groups of {group_size}")
        q, scale = linear_q_symmetric_per_channel(tensor.reshape(rows * columns // group_size, group_size), 0, dtype)
        return q.reshape(rows, columns), scale

    def linear_dequantization_per_group(quantized_tensor, scale, group_size):
        grouped = quantized_tensor.double().reshape(-1, group_size)
        return (scale.double() * grouped).float().reshape(quantized_tensor.shape)

    def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
        weight = float(s_w) * (q_w.double() - int(z_w))
        return (input.double() @ weight.T).float()

    def pack_weights(uint8tensor, bits):
        values, per_byte = uint8tensor.tolist(), 8 // bits
        if len(values) % per_byte:
            raise ValueError(f"{len(values)} values do not fill whole bytes")
        packed = [sum(v << (bits * j) for j, v in enumerate(values[i:i + per_byte])) for i in range(0, len(values), per_byte)]
        return torch.tensor(packed, dtype=torch.uint8)

    def unpack_weights(uint8tensor, bits):
        mask = (1 << bits) - 1
        return torch.tensor([(b >> s) & mask for b in uint8tensor.tolist() for s in range(0, 8, bits)], dtype=torch.uint8)
    """
)

#: torch's own quantizer where it applies (int8 / uint8 with an in-range zero point), the course
#: formula otherwise; dequantizes through a quantized tensor.
QUANTIZE_PER_TENSOR = _src(
    """
    import warnings
    import torch

    _QTYPES = {torch.int8: torch.qint8, torch.uint8: torch.quint8}

    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        info = torch.iinfo(dtype)
        if dtype in _QTYPES and info.min <= zero_point <= info.max:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                q = torch.quantize_per_tensor(tensor.float(), float(scale), int(zero_point), _QTYPES[dtype])
            return q.int_repr()
        return torch.round(tensor / scale + zero_point).clamp(info.min, info.max).to(dtype)

    def linear_dequantization(quantized_tensor, scale, zero_point):
        if quantized_tensor.dtype in _QTYPES:
            info = torch.iinfo(quantized_tensor.dtype)
            if info.min <= zero_point <= info.max:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    q = torch._make_per_tensor_quantized_tensor(quantized_tensor, float(scale), int(zero_point))
                return q.dequantize()
        return scale * (quantized_tensor.float() - zero_point)

    def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
        q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
        r_min, r_max = tensor.min().item(), tensor.max().item()
        scale = (r_max - r_min) / (q_max - q_min)
        zero_point = q_min - r_min / scale
        zero_point = q_min if zero_point < q_min else q_max if zero_point > q_max else int(round(zero_point))
        return scale, zero_point

    def linear_quantization(tensor, dtype=torch.int8):
        scale, zero_point = get_q_scale_and_zero_point(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype), scale, zero_point

    def get_q_scale_symmetric(tensor, dtype=torch.int8):
        return torch.max(torch.abs(tensor)).item() / torch.iinfo(dtype).max

    def linear_q_symmetric(tensor, dtype=torch.int8):
        scale = get_q_scale_symmetric(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, 0, dtype), scale

    def quantization_error(tensor, dequantized_tensor):
        return torch.mean(torch.square(tensor - dequantized_tensor))

    def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
        dim = dim % r_tensor.dim()
        channels = r_tensor.shape[dim]
        scale = torch.tensor([get_q_scale_symmetric(r_tensor.select(dim, i), dtype) for i in range(channels)])
        shape = [1] * r_tensor.dim()
        shape[dim] = channels
        if dtype in _QTYPES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                zeros = torch.zeros(channels, dtype=torch.long)
                q = torch.quantize_per_channel(r_tensor.float(), scale.double(), zeros, dim, _QTYPES[dtype])
            return q.int_repr(), scale.reshape(shape)
        return linear_q_with_scale_and_zero_point(r_tensor, scale.reshape(shape), 0, dtype), scale.reshape(shape)

    def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
        assert tensor.dim() == 2 and tensor.shape[1] % group_size == 0, "group_size must divide the rows"
        q, scale = linear_q_symmetric_per_channel(tensor.reshape(-1, group_size), 0, dtype)
        return q.reshape(tensor.shape), scale

    def linear_dequantization_per_group(quantized_tensor, scale, group_size):
        grouped = quantized_tensor.reshape(-1, group_size)
        if grouped.dtype == torch.int8:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                zeros = torch.zeros(grouped.shape[0], dtype=torch.long)
                q = torch._make_per_channel_quantized_tensor(grouped, scale.flatten().double(), zeros, 0)
            return q.dequantize().reshape(quantized_tensor.shape)
        return linear_dequantization(grouped, scale, 0).reshape(quantized_tensor.shape)

    def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            weight = torch._make_per_tensor_quantized_tensor(q_w, float(s_w), int(z_w)).dequantize()
        return torch.nn.functional.linear(input, weight)

    _PACKED = {2: torch.quint2x4, 4: torch.quint4x2}

    def pack_weights(uint8tensor, bits):
        if len(uint8tensor) % (8 // bits):
            raise ValueError("the length must be a multiple of 8 // bits")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.quantize_per_tensor(uint8tensor.float(), 1.0, 0, _PACKED[bits]).int_repr()

    def unpack_weights(uint8tensor, bits):
        shifts = torch.arange(0, 8, bits, dtype=torch.uint8).repeat(uint8tensor.numel())
        spread = torch.bitwise_right_shift(uint8tensor.repeat_interleave(8 // bits), shifts)
        return torch.bitwise_and(spread, 2**bits - 1)
    """
)

#: In-place arithmetic that overwrites its arguments (legal; the tests must pass fresh clones).
IN_PLACE = _src(
    """
    import torch

    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        info = torch.iinfo(dtype)
        return tensor.div_(scale).add_(zero_point).round_().clamp_(info.min, info.max).to(dtype)

    def linear_dequantization(quantized_tensor, scale, zero_point):
        out = quantized_tensor.float()
        quantized_tensor.zero_()
        return out.sub_(zero_point).mul_(scale)

    def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
        info = torch.iinfo(dtype)
        r_min, r_max = tensor.min().item(), tensor.max().item()
        tensor.fill_(float("nan"))
        scale = (r_max - r_min) / (info.max - info.min)
        z = info.min - r_min / scale
        return scale, (info.min if z < info.min else info.max if z > info.max else int(round(z)))

    def linear_quantization(tensor, dtype=torch.int8):
        scale, zero_point = get_q_scale_and_zero_point(tensor.clone(), dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype), scale, zero_point

    def get_q_scale_symmetric(tensor, dtype=torch.int8):
        return tensor.abs_().max().item() / torch.iinfo(dtype).max

    def linear_q_symmetric(tensor, dtype=torch.int8):
        scale = get_q_scale_symmetric(tensor.clone(), dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, 0, dtype), scale

    def quantization_error(tensor, dequantized_tensor):
        return dequantized_tensor.sub_(tensor).square_().mean()

    def linear_q_symmetric_per_channel(r_tensor, dim, dtype=torch.int8):
        scale = torch.zeros(r_tensor.shape[dim])
        for i in range(r_tensor.shape[dim]):
            scale[i] = get_q_scale_symmetric(r_tensor.select(dim, i).clone(), dtype)
        shape = [1] * r_tensor.dim()
        shape[dim] = -1
        scale = scale.view(shape)
        return linear_q_with_scale_and_zero_point(r_tensor, scale, 0, dtype), scale

    def linear_q_symmetric_per_group(tensor, group_size, dtype=torch.int8):
        assert tensor.shape[1] % group_size == 0
        q, scale = linear_q_symmetric_per_channel(tensor.view(-1, group_size), 0, dtype)
        return q.view(tensor.shape), scale

    def linear_dequantization_per_group(quantized_tensor, scale, group_size):
        out = quantized_tensor.view(-1, group_size).float().mul_(scale).view(quantized_tensor.shape)
        quantized_tensor.zero_()
        return out

    def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
        weight = q_w.float().sub_(z_w).mul_(s_w)
        q_w.zero_()
        out = torch.nn.functional.linear(input, weight)
        input.zero_()
        return out

    def pack_weights(uint8tensor, bits):
        per_byte = 8 // bits
        if uint8tensor.shape[0] % per_byte:
            raise ValueError("incomplete byte")
        groups = uint8tensor.view(-1, per_byte)
        for j in range(1, per_byte):
            groups[:, j] <<= bits * j
        packed = groups[:, 0].clone()
        for j in range(1, per_byte):
            packed |= groups[:, j]
        return packed

    def unpack_weights(uint8tensor, bits):
        values = []
        for _ in range(8 // bits):
            values.append(uint8tensor & (2**bits - 1))
            uint8tensor >>= bits
        return torch.stack(values, dim=1).flatten()
    """
)

#: The course's notebook, quantizing with the float32 reciprocal of the scale (as torch's own
#: quantizer does) and dequantizing with torch functions: codes may differ by one next to a tie.
RECIPROCAL = COURSE_LITERAL + "\n" + _src(
    """
    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        info = torch.iinfo(dtype)
        if isinstance(scale, torch.Tensor):
            inverse = torch.reciprocal(scale.float())
        else:
            inverse = torch.tensor(1.0 / scale, dtype=torch.float32)
        return torch.round(torch.addcmul(torch.full_like(tensor, float(zero_point)), tensor, inverse)).clamp(info.min, info.max).to(dtype)

    def linear_dequantization(quantized_tensor, scale, zero_point):
        return torch.mul(torch.sub(quantized_tensor.to(torch.float32), zero_point), scale)
    """
)

# Labs L4-A and L4-B, appended to the styles above (COURSE_LITERAL already holds the course's code).

#: matmul instead of F.linear; buffers registered as None when there is no bias; children replaced
#: with add_module; the bias copied into the new layer's own (1, out) buffer.
LAYERS_BUFFER_COPY = _src(
    """
    import torch
    from torch import nn

    def w8_a16_forward(weight, input, scales, bias=None):
        out = torch.matmul(input, weight.to(input.dtype).t()) * scales
        return out if bias is None else out + bias

    class W8A16LinearLayer(nn.Module):
        def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
            super().__init__()
            self.register_buffer("int8_weights", torch.zeros(out_features, in_features, dtype=torch.int8))
            self.register_buffer("scales", torch.ones(out_features, dtype=dtype))
            self.register_buffer("bias", torch.zeros(1, out_features, dtype=dtype) if bias else None)

        def quantize(self, weights):
            w = weights.detach().float()
            self.scales = (w.abs().amax(dim=1) / 127).to(weights.dtype)
            self.int8_weights = (w / self.scales.float()[:, None]).round().clamp(-128, 127).to(torch.int8)

        def forward(self, input):
            return w8_a16_forward(self.int8_weights, input, self.scales, self.bias)

    def _swap(module, target_class, excluded, quantize):
        for name, child in list(module.named_children()):
            if type(child) is nn.Linear and name not in excluded:
                layer = target_class(child.in_features, child.out_features, child.bias is not None, child.weight.dtype)
                if quantize:
                    layer.quantize(child.weight)
                if child.bias is not None:
                    with torch.no_grad():
                        layer.bias.copy_(child.bias.reshape(layer.bias.shape))
                module.add_module(name, layer)
            else:
                _swap(child, target_class, excluded, quantize)

    def replace_linear_with_target(module, target_class, module_name_to_exclude):
        _swap(module, target_class, set(module_name_to_exclude), quantize=False)

    def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
        _swap(module, target_class, set(module_name_to_exclude), quantize=True)
    """
)

#: Scales and codes computed in float64; the bias as a fresh Parameter copy; children replaced
#: through `module._modules`.
LAYERS_FLOAT64 = _src(
    """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def w8_a16_forward(weight, input, scales, bias=None):
        output = F.linear(input, weight.to(input.dtype), None)
        output = output * scales
        if bias is not None:
            output += bias
        return output

    class W8A16LinearLayer(nn.Module):
        def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
            super().__init__()
            self.register_buffer("int8_weights", torch.randint(-128, 127, (out_features, in_features), dtype=torch.int8))
            self.register_buffer("scales", torch.randn(out_features, dtype=dtype))
            if bias:
                self.register_buffer("bias", torch.randn(1, out_features, dtype=dtype))
            else:
                self.bias = None

        @torch.no_grad()
        def quantize(self, weights):
            row_max = weights.double().abs().max(dim=-1).values
            scales = (row_max / 127).float().to(weights.dtype)
            codes = torch.round(weights.double() / scales.double().unsqueeze(-1))
            self.int8_weights = torch.clamp(codes, -128, 127).to(torch.int8)
            self.scales = scales

        def forward(self, input):
            return w8_a16_forward(self.int8_weights, input, self.scales, self.bias)

    def replace_linear_with_target(module, target_class, module_name_to_exclude, quantize=False):
        for name, child in module._modules.items():
            if isinstance(child, nn.Linear) and name not in module_name_to_exclude:
                new = target_class(child.in_features, child.out_features, child.bias is not None, child.weight.dtype)
                if quantize:
                    new.quantize(child.weight)
                if child.bias is not None:
                    new.bias = nn.Parameter(child.bias.detach().clone())
                module._modules[name] = new
            elif child is not None:
                replace_linear_with_target(child, target_class, module_name_to_exclude, quantize)

    def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
        replace_linear_with_target(module, target_class, module_name_to_exclude, quantize=True)
    """
)

CORRECT_STYLES = {
    "course_literal": COURSE_LITERAL,
    "reciprocal": RECIPROCAL,
    "vectorised": VECTORISED + "\n" + LAYERS_BUFFER_COPY,
    "float64_inside": FLOAT64_INSIDE + "\n" + LAYERS_FLOAT64,
    "quantize_per_tensor": QUANTIZE_PER_TENSOR + "\n" + LAYERS_BUFFER_COPY,
    "in_place": IN_PLACE + "\n" + LAYERS_FLOAT64,
}

STUB = "import torch\nfrom torch import nn\n\n" + "\n\n".join(
    f"class {name}(nn.Module):\n    def __init__(self, *args, **kwargs):\n        raise NotImplementedError\n"
    if name[:1].isupper() else f"def {name}(*args, **kwargs):\n    raise NotImplementedError\n"
    for name in FUNCTIONS
)


# Environments -----------------------------------------------------------------------------------

def styles_for(lab: Lab) -> dict[str, str]:
    """The correct styles that define every function `lab` uses, and the lab's example `bob.py`."""
    styles = {name: source for name, source in CORRECT_STYLES.items() if _defines(source, lab.functions)}
    example = EXAMPLES / lab.id / "bob.py"
    if example.is_file():
        styles["example_bob"] = example.read_text(encoding="utf-8")
    return styles


def _defines(source: str, names) -> bool:
    return all(f"def {name}(" in source or f"class {name}(" in source for name in names)


def student_env(*sources: str, label: str = "student", required=()) -> dict:
    """Execute notebook `sources` in order into one namespace; return it (otter's global env)."""
    namespace: dict = {"__name__": f"__{label}__"}
    for i, source in enumerate(sources):
        exec(compile(source, f"<{label} cell {i}>", "exec"), namespace)
    missing = [name for name in required if not callable(namespace.get(name))]
    if missing:
        raise RuntimeError(f"{label} does not define {missing}")
    return namespace


def mistake_env(mistake: str) -> dict:
    """The course-literal notebook with the functions of `mistake` replaced by the wrong ones."""
    return student_env(mistake_source(mistake), label=f"mistake {mistake}", required=FUNCTIONS)
