"""What a student reads for the mistakes of labs L4-C and L4-D."""

EXPLANATIONS = {
    "footprint_ignores_buffers": "Your footprint counts the parameters only. Buffers take memory too: a "
    "W8A16LinearLayer keeps its int8 weights and scales in buffers, and DETR's frozen batch norms keep their "
    "statistics in buffers. Add `sum(b.numel() * b.element_size() for b in model.buffers())`.",
    "footprint_counts_elements": "Your footprint counts elements, not bytes. Multiply each tensor's `numel()` by "
    "its `element_size()` (4 bytes in float32, 2 in bfloat16, 1 in int8): quantizing changes the bytes per "
    "element, not the number of elements.",
    "footprint_from_state_dict": "Your footprint adds up `model.state_dict()`. A state dict lists a weight shared "
    "by two layers twice and leaves out non-persistent buffers; `model.parameters()` and `model.buffers()` "
    "list each tensor in memory once.",
    "quantize_model_not_in_place": "`quantize_model` quantizes a copy of the model: the model you were given "
    "keeps its nn.Linear layers. Call `replace_linear_with_target_and_quantize` on `model` itself, and measure "
    "that model before and after.",
    "save_whole_model": "You save the whole model object, which `torch.load(file, weights_only=True)` refuses to "
    "read (and which needs your class definitions to load). Save `model.state_dict()`: a dict of tensors.",
    "save_parameters_only": "You save the parameters only. The int8 weights and scales of a W8A16LinearLayer are "
    "buffers, so they are missing from your file. Save `model.state_dict()`, which holds parameters and buffers.",
    "load_without_assign": "Your model is loaded with `load_state_dict(..., strict=True)` but without "
    "`assign=True`: it copies the saved tensors into the skeleton's meta tensors, which hold nothing, so the "
    "model stays on the meta device. Pass `assign=True` so the saved tensors take their place.",
}

#: Where a mistake of an earlier lab shows differently in one of these labs, what to say there.
IN_LAB = {
    ("replace_wrong_arg_order", "L4-D"): "Your `replace_linear_with_target` builds the new layer with its arguments in "
    "another order than `(in_features, out_features, bias, dtype)`. After quantizing, the layer does not show "
    "it (quantize overwrites its buffers), but an empty skeleton gets (in, out) buffers for (out, in) weights, "
    "and the strict load fails with a size mismatch.",
}

#: Mistake id -> a short title (the class summary's misconceptions table).
TITLES = {
    "footprint_ignores_buffers": "Memory footprint leaves out the buffers",
    "footprint_counts_elements": "Memory footprint counts elements, not bytes",
    "footprint_from_state_dict": "Memory footprint read from the state dict",
    "quantize_model_not_in_place": "Model quantized in a copy, not in place",
    "save_whole_model": "The whole model pickled instead of its state dict",
    "save_parameters_only": "Only the parameters saved, not the buffers",
    "load_without_assign": "State dict loaded without assign=True",
}
