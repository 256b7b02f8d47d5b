"""Labs L4-C and L4-D: a model's footprint, quantizing a whole model, saving and loading it.

The course's code of lessons 12 and 13 as a student who passed L4-A and L4-B has it (the layer and
the replacements come from `course.layers`): a footprint in bytes of parameters and buffers, a
quantization in place, a state dict saved, and a load into a meta skeleton with `assign=True`.
"""

FOOTPRINT = """\
def model_memory_footprint(model):
    return {expression}
"""

CODE = """\
import torch

def quantize_model(model, target_class, module_name_to_exclude):
    previous_memory_footprint = model_memory_footprint(model)
    replace_linear_with_target_and_quantize(model, target_class, module_name_to_exclude)
    return previous_memory_footprint, model_memory_footprint(model)

def save_quantized_state_dict(model, file):
    torch.save(model.state_dict(), file)

def load_quantized_model(build_model, file, target_class, module_name_to_exclude):
    with torch.device("meta"):
        model = build_model()
    replace_linear_with_target(model, target_class, module_name_to_exclude)
    state_dict = torch.load(file, weights_only=True)
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model

""" + FOOTPRINT.format(
    expression="sum(p.numel() * p.element_size() for p in model.parameters()) + "
    "sum(b.numel() * b.element_size() for b in model.buffers())"
)
