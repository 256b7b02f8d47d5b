# Lab L4-D, written as a script: save a quantized model, load it into an empty skeleton.
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


def _replace(module, target_class, module_name_to_exclude, quantize):
    for name, child in list(module.named_children()):
        if type(child) is nn.Linear and name not in module_name_to_exclude:
            layer = target_class(child.in_features, child.out_features, child.bias is not None, child.weight.dtype)
            if quantize:
                layer.quantize(child.weight)
            if child.bias is not None:
                layer.bias = child.bias
            setattr(module, name, layer)
        else:
            _replace(child, target_class, module_name_to_exclude, quantize)


def replace_linear_with_target(module, target_class, module_name_to_exclude):
    _replace(module, target_class, module_name_to_exclude, quantize=False)


def replace_linear_with_target_and_quantize(module, target_class, module_name_to_exclude):
    _replace(module, target_class, module_name_to_exclude, quantize=True)


def save_quantized_state_dict(model, file):
    torch.save({name: tensor for name, tensor in model.state_dict().items()}, file)


def load_quantized_model(build_model, file, target_class, module_name_to_exclude):
    meta = torch.device("meta")
    with meta:
        skeleton = build_model()
    replace_linear_with_target(skeleton, target_class, module_name_to_exclude)
    skeleton.load_state_dict(torch.load(file, map_location="cpu", weights_only=True), assign=True)
    return skeleton
