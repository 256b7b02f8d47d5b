"""Forms of the mistakes of labs L4-C and L4-D, written as students write them (not as the catalogue does)."""

from mistake_forms import form

FORMS = {
    "footprint_ignores_buffers": [
        form(
            """
            def model_memory_footprint(model):
                total = 0
                for _, parameter in model.named_parameters():
                    total += parameter.numel() * parameter.element_size()
                return total
            """
        ),
        form(
            """
            def model_memory_footprint(model):
                return sum(t.nbytes for t in model.parameters())
            """
        ),
        # Module by module, each module's own parameters.
        form(
            """
            def model_memory_footprint(model):
                size = 0
                for module in model.modules():
                    for p in module.parameters(recurse=False):
                        size += p.nelement() * p.element_size()
                return size
            """
        ),
    ],
    "footprint_counts_elements": [
        form(
            """
            import itertools

            def model_memory_footprint(model):
                return sum(t.numel() for t in itertools.chain(model.parameters(), model.buffers()))
            """
        ),
        form(
            """
            def model_memory_footprint(model):
                count = 0
                for tensor in list(model.parameters()) + list(model.buffers()):
                    count += len(tensor.flatten())
                return count
            """
        ),
        form(
            """
            import math

            def model_memory_footprint(model):
                params = sum(math.prod(p.shape) for p in model.parameters())
                buffers = sum(math.prod(b.shape) for b in model.buffers())
                return params + buffers
            """
        ),
    ],
    "footprint_from_state_dict": [
        form(
            """
            def model_memory_footprint(model):
                return sum(v.nbytes for v in model.state_dict().values())
            """
        ),
        form(
            """
            def model_memory_footprint(model):
                state = model.state_dict()
                total = 0
                for key in state:
                    total += state[key].numel() * state[key].element_size()
                return total
            """
        ),
        form(
            """
            def model_memory_footprint(model):
                return sum(t.element_size() * t.nelement() for _, t in model.state_dict(keep_vars=True).items())
            """
        ),
    ],
    "quantize_model_not_in_place": [
        # A copy through an in-memory torch.save.
        form(
            """
            import io
            import torch

            def quantize_model(model, target_class, module_name_to_exclude):
                buffer = io.BytesIO()
                torch.save(model, buffer)
                buffer.seek(0)
                quantized = torch.load(buffer, weights_only=False)
                before = model_memory_footprint(model)
                replace_linear_with_target_and_quantize(quantized, target_class, module_name_to_exclude)
                return before, model_memory_footprint(quantized)
            """
        ),
        # deepcopy, the footprints taken in the other order.
        form(
            """
            from copy import deepcopy

            def quantize_model(model, target_class, module_name_to_exclude):
                quantized = deepcopy(model)
                replace_linear_with_target_and_quantize(quantized, target_class, module_name_to_exclude)
                after = model_memory_footprint(quantized)
                before = model_memory_footprint(model)
                return before, after
            """
        ),
        # pickle round trip.
        form(
            """
            import pickle

            def quantize_model(model, target_class, module_name_to_exclude):
                footprint_before = model_memory_footprint(model)
                working_copy = pickle.loads(pickle.dumps(model))
                replace_linear_with_target_and_quantize(working_copy, target_class, module_name_to_exclude)
                footprint_after = model_memory_footprint(working_copy)
                return footprint_before, footprint_after
            """
        ),
    ],
    "save_whole_model": [
        form(
            """
            import torch

            def save_quantized_state_dict(model, file):
                torch.save({"model": model}, file)
            """
        ),
        form(
            """
            import os
            import pickle

            def save_quantized_state_dict(model, file):
                if isinstance(file, (str, os.PathLike)):
                    with open(file, "wb") as f:
                        pickle.dump(model, f)
                else:
                    pickle.dump(model, file)
            """
        ),
        form(
            """
            import torch

            def save_quantized_state_dict(model, file):
                model.eval()
                torch.save(model.cpu(), file, pickle_protocol=4)
            """
        ),
    ],
    "save_parameters_only": [
        form(
            """
            import torch

            def save_quantized_state_dict(model, file):
                torch.save({name: p.detach() for name, p in model.named_parameters()}, file)
            """
        ),
        form(
            """
            import torch

            def save_quantized_state_dict(model, file):
                state = model.state_dict()
                torch.save({key: state[key] for key, _ in model.named_parameters()}, file)
            """
        ),
        form(
            """
            import torch
            from collections import OrderedDict

            def save_quantized_state_dict(model, file):
                params = OrderedDict()
                for module_name, module in model.named_modules():
                    for name, p in module.named_parameters(recurse=False):
                        params[f"{module_name}.{name}" if module_name else name] = p.data
                torch.save(params, file)
            """
        ),
    ],
    "load_without_assign": [
        form(
            """
            import torch

            def load_quantized_model(build_model, file, target_class, module_name_to_exclude):
                with torch.device("meta"):
                    model = build_model()
                replace_linear_with_target(model, target_class, module_name_to_exclude)
                state = torch.load(file, map_location="cpu", weights_only=True)
                model.load_state_dict(state)
                return model
            """
        ),
        # Loaded inside the meta context.
        form(
            """
            import torch

            def load_quantized_model(build_model, file, target_class, module_name_to_exclude):
                state_dict = torch.load(file, weights_only=True)
                with torch.device("meta"):
                    model = build_model()
                    replace_linear_with_target(model, target_class, module_name_to_exclude)
                    model.load_state_dict(state_dict, strict=True)
                return model
            """
        ),
        # Every tensor copied in by hand, with copy_.
        form(
            """
            import torch

            def load_quantized_model(build_model, file, target_class, module_name_to_exclude):
                with torch.device("meta"):
                    model = build_model()
                replace_linear_with_target(model, target_class, module_name_to_exclude)
                saved = torch.load(file, weights_only=True)
                own = model.state_dict(keep_vars=True)
                with torch.no_grad():
                    for key, value in saved.items():
                        own[key].copy_(value)
                return model
            """
        ),
    ],
}

#: Right code of these labs written unlike the course's and every correct style: no diagnosis.
CORRECT = [
    form(
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
]

#: Wrong code that no catalogued mistake describes: it must fail its lab and get no diagnosis.
UNCATALOGUED = [
    # The footprint in megabytes, not bytes.
    form(
        """
        def model_memory_footprint(model):
            return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()]) / 1e6
        """
    ),
]
