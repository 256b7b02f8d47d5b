"""Lab L4-B, Quantization in Depth. Bob's solutions."""

import torch
from torch import nn


def w8_a16_forward(weight, input, scales, bias=None):
    output = torch.matmul(input, weight.to(input.dtype).T) * scales
    return output if bias is None else output + bias


class W8A16LinearLayer(nn.Module):
    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
        super().__init__()
        self.register_buffer("int8_weights", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("scales", torch.ones(out_features, dtype=dtype))
        self.register_buffer("bias", torch.zeros(1, out_features, dtype=dtype) if bias else None)

    @torch.no_grad()
    def quantize(self, weights):
        w = weights.float()
        scales = (w.abs().amax(dim=1) / 127).to(weights.dtype)
        self.int8_weights = (w / scales.float().unsqueeze(-1)).round().clamp(-128, 127).to(torch.int8)
        self.scales = scales

    def forward(self, input):
        return w8_a16_forward(self.int8_weights, input, self.scales, self.bias)


def _swap_linears(module, target_class, excluded, quantize):
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
            _swap_linears(child, target_class, excluded, quantize)


def replace_linear_with_target(module, target_class, module_name_to_exclude):
    _swap_linears(module, target_class, set(module_name_to_exclude), quantize=False)


def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
    _swap_linears(module, target_class, set(module_name_to_exclude), quantize=True)


if __name__ == "__main__":
    from quantlab import models

    model = models.DummyModel()
    replace_linear_with_target_and_quantize(model, W8A16LinearLayer, ["lm_head"])
    print(model)
    print(list(model.state_dict()))
