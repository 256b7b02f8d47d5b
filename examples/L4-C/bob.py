# Lab L4-C, written as a script: whole-model quantization with my own layer and replacement code.
import itertools

import torch
from torch import nn
import torch.nn.functional as F


def w8_a16_forward(weight, input, scales, bias=None):
    output = (input @ weight.to(input.dtype).T) * scales
    return output if bias is None else output + bias


class W8A16LinearLayer(nn.Module):
    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
        super().__init__()
        self.register_buffer("int8_weights", torch.zeros((out_features, in_features), dtype=torch.int8))
        self.register_buffer("scales", torch.ones(out_features, dtype=dtype))
        self.register_buffer("bias", torch.zeros((1, out_features), dtype=dtype) if bias else None)

    @torch.no_grad()
    def quantize(self, weights):
        w = weights.detach().float()
        scales = w.abs().amax(dim=1) / 127
        self.scales = scales.to(weights.dtype)
        self.int8_weights = (w / self.scales.float()[:, None]).round().clamp(-128, 127).to(torch.int8)

    def forward(self, input):
        return w8_a16_forward(self.int8_weights, input, self.scales, self.bias)


def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
    for name, child in list(module.named_children()):
        if type(child) is nn.Linear and name not in module_name_to_exclude:
            layer = target_class(child.in_features, child.out_features, child.bias is not None, child.weight.dtype)
            layer.quantize(child.weight)
            if child.bias is not None:
                layer.bias = child.bias
            setattr(module, name, layer)
        else:
            replace_linear_with_target_and_quantize(child, target_class, module_name_to_exclude)


def model_memory_footprint(model):
    tensors = itertools.chain(model.parameters(), model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def quantize_model(model, target_class, module_name_to_exclude):
    footprint_before = model_memory_footprint(model)
    replace_linear_with_target_and_quantize(model, target_class, module_name_to_exclude)
    footprint_after = model_memory_footprint(model)
    return (footprint_before, footprint_after)


if __name__ == "__main__":
    from quantlab import tiny_models

    model = tiny_models.decoder(dtype=torch.bfloat16)
    print(quantize_model(model, W8A16LinearLayer, ["lm_head"]))
