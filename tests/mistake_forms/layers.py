"""Forms of the mistakes of labs L4-A and L4-B, unlike the catalogue's code."""

from mistake_forms import form

#: The course's layer around a constructor and a `quantize` of the form's own.
LAYER = '''
class W8A16LinearLayer(nn.Module):
{init}
{quantize}
    def forward(self, input):
        return w8_a16_forward(self.int8_weights, input, self.scales, self.bias)
'''
BUFFERS = '''
    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
        super().__init__()
        self.register_buffer("int8_weights", torch.randint(-128, 127, (out_features, in_features), dtype=torch.int8))
        self.register_buffer("scales", torch.randn((out_features), dtype=dtype))
        if bias:
            self.register_buffer("bias", torch.randn((1, out_features), dtype=dtype))
        else:
            self.bias = None
'''
QUANTIZE = '''
    def quantize(self, weights):
        w_fp32 = weights.clone().to(torch.float32)
        scales = w_fp32.abs().max(dim=-1).values / 127
        scales = scales.to(weights.dtype)
        self.int8_weights = torch.round(w_fp32 / scales.float().unsqueeze(1)).clamp(-128, 127).to(torch.int8)
        self.scales = scales
'''


def layer(init: str = BUFFERS, quantize: str = QUANTIZE) -> str:
    return form(LAYER.format(init=init.strip("\n"), quantize=quantize.strip("\n")))


def replacement(body: str) -> str:
    """Both replacement functions, through the helper `_replace(module, target, exclude, quantize)` of `body`."""
    return form(body) + form(
        """
        def replace_linear_with_target(module, target_class, module_name_to_exclude):
            _replace(module, target_class, module_name_to_exclude, False)

        def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
            _replace(module, target_class, module_name_to_exclude, True)
        """
    )


FORMS = {
    "w8a16_int8_parameter": [
        # The example: the constructor makes the int8 weights a Parameter (a RuntimeError).
        layer(init='''
    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
        super().__init__()
        self.int8_weights = nn.Parameter(torch.randint(-128, 127, (out_features, in_features), dtype=torch.int8))
        self.register_buffer("scales", torch.randn((out_features), dtype=dtype))
        self.bias = nn.Parameter(torch.randn((1, out_features), dtype=dtype)) if bias else None
'''),
        layer(init='''
    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
        super().__init__()
        weights = torch.zeros(out_features, in_features, dtype=torch.int8)
        self.register_parameter("int8_weights", nn.Parameter(weights))
        self.register_buffer("scales", torch.ones(out_features, dtype=dtype))
        self.register_buffer("bias", torch.zeros(1, out_features, dtype=dtype) if bias else None)
'''),
        layer(quantize='''
    def quantize(self, weights):
        w = weights.float()
        row_max = w.abs().amax(dim=1, keepdim=True)
        self.scales = (row_max / 127).squeeze(1).to(weights.dtype)
        codes = torch.round(w / self.scales.float()[:, None]).clamp(-128, 127)
        self.int8_weights = nn.Parameter(codes.to(torch.int8))
'''),
        layer(init='''
    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
        super().__init__()
        empty = torch.empty((out_features, in_features), dtype=torch.int8)
        self.int8_weights = nn.Parameter(empty, requires_grad=False)
        self.register_buffer("scales", torch.ones(out_features, dtype=dtype))
        if bias:
            self.register_buffer("bias", torch.zeros((1, out_features), dtype=dtype))
        else:
            self.bias = None
''', quantize='''
    def quantize(self, weights):
        w = weights.detach().to(torch.float32)
        scales = (w.abs().max(dim=-1).values / 127).to(weights.dtype)
        self.int8_weights.data = torch.round(w / scales.float().unsqueeze(1)).clamp(-128, 127).to(torch.int8)
        self.scales = scales
'''),
    ],
    "w8a16_scales_per_column": [
        # The example: codes made with per-column scales, per-row scales stored.
        layer(quantize='''
    def quantize(self, weights):
        w = weights.clone().float()
        column_scales = w.abs().amax(dim=0) / 127
        self.int8_weights = torch.round(w / column_scales).clamp(-128, 127).to(torch.int8)
        self.scales = (w.abs().amax(dim=1) / 127).to(weights.dtype)
'''),
        layer(quantize='''
    def quantize(self, weights):
        w = weights.to(torch.float32)
        scales = w.abs().max(dim=0, keepdim=True).values / 127
        self.int8_weights = (w / scales).round().clamp(-128, 127).to(torch.int8)
        self.scales = scales.flatten().to(weights.dtype)
'''),
        layer(quantize='''
    def quantize(self, weights):
        transposed = weights.t().float()
        scales = transposed.abs().max(dim=-1).values / 127
        codes = torch.round(transposed / scales.unsqueeze(1)).clamp(-128, 127).to(torch.int8)
        self.int8_weights = codes.t().contiguous()
        self.scales = scales.to(weights.dtype)
'''),
        layer(quantize='''
    def quantize(self, weights):
        rows, columns = weights.shape
        codes = torch.empty(rows, columns, dtype=torch.int8)
        for j in range(columns):
            column = weights[:, j].float()
            codes[:, j] = torch.round(column / (column.abs().max() / 127)).clamp(-128, 127).to(torch.int8)
        self.int8_weights = codes
        self.scales = (weights.float().abs().max(dim=-1).values / 127).to(weights.dtype)
'''),
    ],
    "w8a16_bias_before_scale": [
        form(
            """
            import torch

            def w8_a16_forward(weight, input, scales, bias=None):
                out = input @ weight.to(input.dtype).T + (bias if bias is not None else 0)
                return out * scales
            """
        ),
        # The bias handed to F.linear, which adds it before the scales multiply.
        form(
            """
            import torch
            import torch.nn.functional as F

            def w8_a16_forward(weight, input, scales, bias=None):
                flat_bias = None if bias is None else bias.reshape(-1)
                return F.linear(input, weight.to(input.dtype), flat_bias) * scales
            """
        ),
        # In-place steps in the wrong order.
        form(
            """
            import torch

            def w8_a16_forward(weight, input, scales, bias=None):
                output = torch.matmul(input, weight.to(input.dtype).t())
                if bias is not None:
                    output += bias
                output *= scales
                return output
            """
        ),
    ],
    "w8a16_scale_128": [
        layer(quantize='''
    def quantize(self, weights):
        w = weights.detach().float()
        scales = w.abs().amax(dim=1) / 128
        self.int8_weights = (w / scales[:, None]).round().clamp(-128, 127).to(torch.int8)
        self.scales = scales.to(weights.dtype)
'''),
        layer(quantize='''
    def quantize(self, weights):
        w = weights.to(torch.float32)
        scales = (torch.max(torch.abs(w), dim=-1)[0] / 2 ** 7).to(weights.dtype)
        codes = torch.round(w / scales.float().view(-1, 1))
        self.int8_weights = torch.clamp(codes, -128, 127).to(torch.int8)
        self.scales = scales
'''),
        # |q_min| = 128, and no clamp: the largest weight of each row wraps to -128.
        layer(quantize='''
    def quantize(self, weights):
        w = weights.float()
        scales = w.abs().max(-1).values / abs(torch.iinfo(torch.int8).min)
        self.scales = scales.to(weights.dtype)
        self.int8_weights = torch.round(w / self.scales.float().unsqueeze(-1)).to(torch.int8)
'''),
    ],
    "w8a16_lowprec_divide_no_clamp": [
        # Everything in the weights' dtype, no clamp.
        layer(quantize='''
    def quantize(self, weights):
        scales = weights.abs().max(dim=-1).values / 127
        self.int8_weights = (weights / scales[:, None]).round().to(torch.int8)
        self.scales = scales
'''),
        # Scales computed in float32, divided in the weights' dtype with torch.div, no clamp.
        layer(quantize='''
    def quantize(self, weights):
        scales = (weights.float().abs().amax(dim=1) / 127).to(weights.dtype)
        codes = torch.div(weights, scales.view(-1, 1))
        self.int8_weights = torch.round(codes).type(torch.int8)
        self.scales = scales
'''),
        # Row by row in the weights' dtype.
        layer(quantize='''
    def quantize(self, weights):
        codes = torch.empty(weights.shape, dtype=torch.int8)
        scales = torch.empty(weights.shape[0], dtype=weights.dtype)
        for i, row in enumerate(weights):
            scales[i] = row.abs().max() / 127
            codes[i] = torch.round(row / scales[i]).to(torch.int8)
        self.int8_weights = codes
        self.scales = scales
'''),
        # Divided in the weights' precision, then clamped: no wrap, but codes off by one.
        layer(quantize='''
    def quantize(self, weights):
        w32 = weights.float()
        scales = (w32.abs().amax(dim=-1) / 127).to(weights.dtype)
        self.int8_weights = torch.clamp(torch.round(weights / scales.unsqueeze(-1)), -128, 127).to(torch.int8)
        self.scales = scales
'''),
    ],
    "replace_no_recursion": [
        # Only the direct children, through a list of named_children.
        replacement(
            """
            from torch import nn

            def _replace(module, target_class, exclude, quantize):
                for name, child in list(module.named_children()):
                    if isinstance(child, nn.Linear) and name not in exclude:
                        new = target_class(child.in_features, child.out_features, child.bias is not None,
                                           child.weight.dtype)
                        if quantize:
                            new.quantize(child.weight)
                        if child.bias is not None:
                            new.bias = child.bias
                        setattr(module, name, new)
            """
        ),
        # Through module._modules, top level only.
        replacement(
            """
            import torch.nn as nn

            def _replace(module, target_class, exclude, quantize):
                for name in list(module._modules):
                    child = module._modules[name]
                    if type(child) is nn.Linear and name not in exclude:
                        layer = target_class(child.in_features, child.out_features, child.bias is not None,
                                             child.weight.dtype)
                        if quantize:
                            layer.quantize(child.weight)
                        layer.bias = child.bias
                        module._modules[name] = layer
            """
        ),
        # A comprehension of the Linears to replace, then add_module.
        replacement(
            """
            import torch
            from torch import nn

            def _replace(module, target_class, exclude, quantize):
                linears = {name: child for name, child in module.named_children()
                           if isinstance(child, nn.Linear) and not any(x == name for x in exclude)}
                for name, linear in linears.items():
                    layer = target_class(linear.in_features, linear.out_features, linear.bias is not None,
                                         linear.weight.dtype)
                    if quantize:
                        layer.quantize(linear.weight)
                    if linear.bias is not None:
                        layer.bias = linear.bias
                    module.add_module(name, layer)
            """
        ),
    ],
    "replace_drops_bias": [
        # The new layer is never given the old bias.
        replacement(
            """
            from torch import nn

            def _replace(module, target_class, exclude, quantize):
                for name, child in module.named_children():
                    if isinstance(child, nn.Linear) and name not in exclude:
                        new = target_class(child.in_features, child.out_features, child.bias is not None,
                                           child.weight.dtype)
                        if quantize:
                            new.quantize(child.weight)
                        setattr(module, name, new)
                    else:
                        _replace(child, target_class, exclude, quantize)
            """
        ),
        # Built without a bias at all.
        replacement(
            """
            import torch.nn as nn

            def _replace(module, target_class, exclude, quantize):
                for name, child in list(module._modules.items()):
                    if isinstance(child, nn.Linear) and name not in exclude:
                        layer = target_class(child.in_features, child.out_features, False, child.weight.dtype)
                        if quantize:
                            layer.quantize(child.weight)
                        module._modules[name] = layer
                    elif child is not None:
                        _replace(child, target_class, exclude, quantize)
            """
        ),
        # The "old" bias read after the child was replaced: the new layer's own random bias.
        replacement(
            """
            from torch import nn

            def _replace(module, target_class, exclude, quantize):
                for name, child in module.named_children():
                    if isinstance(child, nn.Linear) and not any(x == name for x in exclude):
                        setattr(module, name, target_class(child.in_features, child.out_features,
                                                           child.bias is not None, child.weight.dtype))
                        if quantize:
                            getattr(module, name).quantize(child.weight)
                        replaced = getattr(module, name)
                        if replaced.bias is not None:
                            replaced.bias = getattr(module, name).bias
                    else:
                        _replace(child, target_class, exclude, quantize)
            """
        ),
    ],
    "exclude_by_substring_or_path": [
        # A prefix match: excluding "1" excludes "10" too.
        replacement(
            """
            from torch import nn

            def _replace(module, target_class, exclude, quantize):
                for name, child in module.named_children():
                    if isinstance(child, nn.Linear) and not name.startswith(tuple(exclude)):
                        new = target_class(child.in_features, child.out_features, child.bias is not None,
                                           child.weight.dtype)
                        if quantize:
                            new.quantize(child.weight)
                        if child.bias is not None:
                            new.bias = child.bias
                        setattr(module, name, new)
                    else:
                        _replace(child, target_class, exclude, quantize)
            """
        ),
        # Dotted paths from named_modules, compared with the excluded names.
        replacement(
            """
            from torch import nn

            def _replace(module, target_class, exclude, quantize):
                linears = [(path, m) for path, m in module.named_modules() if isinstance(m, nn.Linear)]
                for path, child in linears:
                    if path in exclude:
                        continue
                    parent_path, _, name = path.rpartition(".")
                    parent = module.get_submodule(parent_path) if parent_path else module
                    new = target_class(child.in_features, child.out_features, child.bias is not None,
                                           child.weight.dtype)
                    if quantize:
                        new.quantize(child.weight)
                    if child.bias is not None:
                        new.bias = child.bias
                    setattr(parent, name, new)
            """
        ),
        # A regular expression search.
        replacement(
            """
            import re
            import torch.nn as nn

            def _replace(module, target_class, exclude, quantize):
                for name, child in list(module.named_children()):
                    if type(child) is nn.Linear and not any(re.search(pattern, name) for pattern in exclude):
                        layer = target_class(child.in_features, child.out_features, child.bias is not None,
                                             child.weight.dtype)
                        if quantize:
                            layer.quantize(child.weight)
                        if child.bias is not None:
                            layer.bias = child.bias
                        module.add_module(name, layer)
                    else:
                        _replace(child, target_class, exclude, quantize)
            """
        ),
    ],
    "replace_wrong_arg_order": [
        # The sizes unpacked from the weight's shape, which is (out, in).
        replacement(
            """
            from torch import nn

            def _replace(module, target_class, exclude, quantize):
                for name, child in module.named_children():
                    if isinstance(child, nn.Linear) and name not in exclude:
                        new = target_class(*child.weight.shape, child.bias is not None, child.weight.dtype)
                        if quantize:
                            new.quantize(child.weight)
                        if child.bias is not None:
                            new.bias = child.bias
                        setattr(module, name, new)
                    else:
                        _replace(child, target_class, exclude, quantize)
            """
        ),
        # dtype and bias swapped.
        replacement(
            """
            import torch.nn as nn

            def _replace(module, target_class, exclude, quantize):
                for name, child in list(module._modules.items()):
                    if isinstance(child, nn.Linear) and name not in exclude:
                        layer = target_class(child.in_features, child.out_features, child.weight.dtype,
                                             child.bias is not None)
                        if quantize:
                            layer.quantize(child.weight)
                        if child.bias is not None:
                            layer.bias = child.bias
                        module._modules[name] = layer
                    elif child is not None:
                        _replace(child, target_class, exclude, quantize)
            """
        ),
        # out before in, the rest by keyword.
        replacement(
            """
            from torch import nn

            def _replace(module, target_class, exclude, quantize):
                for name, child in module.named_children():
                    if isinstance(child, nn.Linear) and not any(x == name for x in exclude):
                        new = target_class(child.out_features, child.in_features,
                                           bias=child.bias is not None, dtype=child.weight.dtype)
                        if quantize:
                            new.quantize(child.weight)
                        if child.bias is not None:
                            new.bias = child.bias
                        setattr(module, name, new)
                    else:
                        _replace(child, target_class, exclude, quantize)
            """
        ),
    ],
}

#: Right layers and replacements written unlike the course's and unlike `tests/mistakes.py`'s styles: no diagnosis.
CORRECT = [
    layer(quantize='''
    def quantize(self, weights):
        rows = []
        scales = []
        for row in weights.float():
            scale = (row.abs().max() / 127).to(weights.dtype)
            scales.append(scale)
            rows.append(torch.round(row / scale.float()).clamp(-128, 127).to(torch.int8))
        self.int8_weights = torch.stack(rows)
        self.scales = torch.stack(scales)
'''),
    layer(init='''
    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
        super().__init__()
        self.register_buffer("int8_weights", torch.zeros((out_features, in_features), dtype=torch.int8))
        self.register_buffer("scales", torch.ones(out_features, dtype=dtype))
        self.register_buffer("bias", torch.zeros((1, out_features), dtype=dtype) if bias else None)
''', quantize='''
    def quantize(self, weights):
        w = weights.detach().double()
        scales = (w.abs().amax(dim=1) / 127).to(weights.dtype)
        self.int8_weights.copy_(torch.round(w / scales.double()[:, None]).clamp(-128, 127).to(torch.int8))
        self.scales = scales
'''),
    form(
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
]

#: Wrong code that no catalogued mistake describes: it must fail its lab and get no diagnosis.
UNCATALOGUED = [
    # The scales kept in float32 whatever the weights' dtype.
    form(
        """
        class W8A16LinearLayer(nn.Module):
            def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
                super().__init__()
                self.register_buffer("int8_weights", torch.zeros(out_features, in_features, dtype=torch.int8))
                self.register_buffer("scales", torch.ones(out_features, dtype=dtype))
                self.register_buffer("bias", torch.zeros(1, out_features, dtype=dtype) if bias else None)
            def quantize(self, weights):
                w = weights.float()
                self.scales = w.abs().amax(dim=1) / 127
                self.int8_weights = torch.round(w / self.scales[:, None]).clamp(-128, 127).to(torch.int8)
            def forward(self, input):
                return w8_a16_forward(self.int8_weights, input, self.scales, self.bias)
        """
    ),
    # Codes truncated by the cast instead of rounded.
    form(
        """
        class W8A16LinearLayer(nn.Module):
            def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
                super().__init__()
                self.register_buffer("int8_weights", torch.zeros(out_features, in_features, dtype=torch.int8))
                self.register_buffer("scales", torch.ones(out_features, dtype=dtype))
                self.register_buffer("bias", torch.zeros(1, out_features, dtype=dtype) if bias else None)
            def quantize(self, weights):
                w = weights.float()
                scales = w.abs().amax(dim=1) / 127
                self.int8_weights = (w / scales[:, None]).clamp(-128, 127).to(torch.int8)
                self.scales = scales.to(weights.dtype)
            def forward(self, input):
                return w8_a16_forward(self.int8_weights, input, self.scales, self.bias)
        """
    ),
    # quantize called twice on each new layer.
    form(
        """
        def _r(module, target_class, exclude, quantize):
            for name, child in module.named_children():
                if isinstance(child, nn.Linear) and name not in exclude:
                    new = target_class(child.in_features, child.out_features, child.bias is not None,
                                       child.weight.dtype)
                    if quantize:
                        new.quantize(child.weight)
                        new.quantize(child.weight)
                    if child.bias is not None:
                        new.bias = child.bias
                    setattr(module, name, new)
                else:
                    _r(child, target_class, exclude, quantize)
        def replace_linear_with_target(module, target_class, module_name_to_exclude):
            _r(module, target_class, module_name_to_exclude, False)
        def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
            _r(module, target_class, module_name_to_exclude, True)
        """
    ),
    # The old bias copied, doubled.
    form(
        """
        def _r(module, target_class, exclude, quantize):
            for name, child in module.named_children():
                if isinstance(child, nn.Linear) and name not in exclude:
                    new = target_class(child.in_features, child.out_features, child.bias is not None,
                                       child.weight.dtype)
                    if quantize:
                        new.quantize(child.weight)
                    if child.bias is not None:
                        new.bias = child.bias * 2
                    setattr(module, name, new)
                else:
                    _r(child, target_class, exclude, quantize)
        def replace_linear_with_target(module, target_class, module_name_to_exclude):
            _r(module, target_class, module_name_to_exclude, False)
        def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
            _r(module, target_class, module_name_to_exclude, True)
        """
    ),
    # The new layer built with keyword arguments, in the course's order.
    form(
        """
        def _r(module, target_class, exclude, quantize):
            for name, child in module.named_children():
                if isinstance(child, nn.Linear) and name not in exclude:
                    new = target_class(in_features=child.in_features, out_features=child.out_features,
                                       bias=child.bias is not None, dtype=child.weight.dtype)
                    if quantize:
                        new.quantize(child.weight)
                    if child.bias is not None:
                        new.bias = child.bias
                    setattr(module, name, new)
                else:
                    _r(child, target_class, exclude, quantize)
        def replace_linear_with_target(module, target_class, module_name_to_exclude):
            _r(module, target_class, module_name_to_exclude, False)
        def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
            _r(module, target_class, module_name_to_exclude, True)
        """
    ),
]
