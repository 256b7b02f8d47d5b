"""Correct code of the later labs, written unlike every correct style of tests/mistakes.py.

`CORRECT_FORMS`: name -> the code of a student who got some labs right in their own way (other torch
calls, loops, Python ints and strings). Laid over the course-literal notebook, as the mistakes'
forms are (`tests/mistake_forms`), each must pass every test of the labs it touches and get no
diagnosis: the signatures those forms brought must not fire on correct code.
"""

import re

from mistake_forms import form

CORRECT_FORMS = {
    "granularity_permute_unfold": form(
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
    "granularity_loops": form(
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
    "w8a32_einsum": form(
        """
        import torch

        def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
            weight = torch.sub(q_w.to(torch.float32), z_w).mul(s_w)
            return torch.einsum("...i,oi->...o", input, weight)
        """
    ),
    "w8a32_distributed": form(
        """
        import torch

        def quantized_linear_W8A32_without_bias(input, q_w, s_w, z_w):
            codes = input @ q_w.float().T
            shift = z_w * input.sum(dim=-1, keepdim=True)
            return (codes - shift) * s_w
        """
    ),
    "packing_arithmetic": form(
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
    "packing_strings": form(
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
    "layers_keepdim_named_modules": form(
        """
        import torch
        from torch import nn

        def w8_a16_forward(weight, input, scales, bias=None):
            output = torch.einsum("...i,oi->...o", input, weight.to(input.dtype)) * scales
            return output + bias if bias is not None else output

        class W8A16LinearLayer(nn.Module):
            def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
                super().__init__()
                self.register_buffer("int8_weights", torch.empty(out_features, in_features, dtype=torch.int8))
                self.register_buffer("scales", torch.empty(out_features, dtype=dtype))
                if bias:
                    self.register_buffer("bias", torch.empty(1, out_features, dtype=dtype))
                else:
                    self.bias = None

            def quantize(self, weights):
                w = weights.detach().to(torch.float32)
                row_max = torch.linalg.vector_norm(w, ord=float("inf"), dim=1, keepdim=True)
                scales = (row_max / 127).to(weights.dtype)
                self.int8_weights = torch.clamp(torch.round(w / scales.float()), -128, 127).to(torch.int8)
                self.scales = scales.squeeze(1)

            def forward(self, input):
                return w8_a16_forward(self.int8_weights, input, self.scales, self.bias)

        def _replace(model, target_class, exclude, quantize):
            linears = [(path, m) for path, m in model.named_modules() if type(m) is nn.Linear]
            for path, child in linears:
                parent_path, _, name = path.rpartition(".")
                if name in exclude:
                    continue
                new = target_class(child.in_features, child.out_features, child.bias is not None, child.weight.dtype)
                if quantize:
                    new.quantize(child.weight)
                if child.bias is not None:
                    new.bias = child.bias
                setattr(model.get_submodule(parent_path), name, new)

        def replace_linear_with_target(module, target_class, module_name_to_exclude):
            _replace(module, target_class, module_name_to_exclude, False)

        def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
            _replace(module, target_class, module_name_to_exclude, True)
        """
    ),
    "whole_model_by_storage": form(
        """
        import torch

        def model_memory_footprint(model):
            tensors = {id(t): t for t in [*model.parameters(), *model.buffers()]}
            return sum(t.nbytes for t in tensors.values())

        def quantize_model(model, target_class, module_name_to_exclude):
            footprints = [model_memory_footprint(model)]
            replace_linear_with_target_and_quantize(model, target_class, module_name_to_exclude)
            footprints.append(model_memory_footprint(model))
            return tuple(footprints)

        def save_quantized_state_dict(model, file):
            state = {key: value.detach().clone() for key, value in model.state_dict().items()}
            torch.save(state, file)

        def load_quantized_model(build_model, file, target_class, module_name_to_exclude):
            state = torch.load(file, map_location="cpu", weights_only=True)
            with torch.device("meta"):
                skeleton = build_model()
            replace_linear_with_target(skeleton, target_class, module_name_to_exclude)
            skeleton.load_state_dict(state, assign=True)
            return skeleton
        """
    ),
}


def defined(source: str) -> set[str]:
    """The functions and classes `source` defines at its top level."""
    return set(re.findall(r"^(?:def|class) (\w+)", source, re.MULTILINE))
