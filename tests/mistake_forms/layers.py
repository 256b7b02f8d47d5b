"""Forms of the W8A16 layer's mistakes named in issue 10 (lab L4-A), unlike the catalogue's code."""

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
}

#: Right layers written unlike the course's and unlike `tests/mistakes.py`'s styles: no diagnosis.
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
]
