"""Inspections of lessons 12 and 13: a whole model quantized, saved and loaded, as plain data.

Each inspection builds one of `quantlab.tiny_models` from a name and a seed, runs the student's
functions on it and returns its findings as dicts, lists, strings, numbers, booleans, None and plain
tensors. The tests run the same inspection on the hidden reference and compare the two (see
`quantlab.harness`: in the autograder an inspection runs beside the student's code).

- `footprint_findings(model_memory_footprint, model, ...)`: what the footprint function returns;
- `quantization_findings(quantize_model, target_class, model, exclude, ...)`: what quantizing the
  whole model returned, the module types by path, the state dict and the outputs on fixed inputs;
- `save_findings(save_quantized_state_dict, model, ...)`: what was written, read back with
  `torch.load(..., weights_only=True)` (or that torch.save could not pickle what it was given);
- `load_findings(load_quantized_model, target_class, model, exclude, state_dict, ...)`: the model
  loaded from a saved state dict: where its skeleton was built, missing and unexpected keys,
  tensors left on the meta device, module types, outputs; or, when the strict load raised, how
  the skeleton differs from the saved state dict (keys, shapes);
- `round_trip_findings(...)`: quantize, save and load with the student's own functions; what the
  file holds, and are the outputs of the loaded model identical to those of the model that was saved?

Errors that a finding explains (a model that torch.save cannot pickle, a strict load that refuses
the skeleton) become findings, so a check can say what went wrong; any other error of the
student's code propagates as it is.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import tempfile
import warnings

import torch
from torch import nn

from quantlab import tiny_models
from quantlab.harness import beside_student_code

__all__ = [
    "MODELS",
    "PROMPT",
    "build",
    "model_inputs",
    "outputs_of",
    "original_findings",
    "published_state_dict",
    "footprint_findings",
    "quantization_findings",
    "save_findings",
    "load_findings",
    "round_trip_findings",
]

#: The prompt of lesson 12's CodeGen demo.
PROMPT = "def hello_world():"
#: How many tokens the greedy decoding adds (the course's max_new_tokens=20).
NEW_TOKENS = 20
FILE_NAME = "quantized_state_dict.pth"


class _BufferZoo(nn.Module):
    """Parameters and buffers of many dtypes: a non-persistent buffer and a weight shared by two layers."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 6)
        self.head = nn.Linear(6, 10, bias=False)
        self.head.weight = self.embed.weight  # tied: one tensor, counted once
        self.norm = nn.LayerNorm(6).to(torch.bfloat16)
        self.register_buffer("codes", torch.zeros(7, 5, dtype=torch.int8))
        self.register_buffer("steps", torch.zeros(3, dtype=torch.int64))
        self.register_buffer("mask", torch.ones(4, 4, dtype=torch.bool))
        self.register_buffer("half_scales", torch.ones(9, dtype=torch.float16))
        self.register_buffer("cache", torch.zeros(2, 8), persistent=False)


def _zoo(seed: int = 0, dtype: torch.dtype = torch.float32, **config) -> nn.Module:
    """The zoo keeps its own dtypes (`dtype` is ignored); only its shapes matter, so its values are not seeded."""
    return _BufferZoo()


#: Builders by name: inspections receive a name, never a model, so no model crosses a process boundary.
MODELS = {"codegen": tiny_models.decoder, "detr": tiny_models.detector, "zoo": _zoo}
_SKELETONS = {
    "codegen": (tiny_models.TinyCodeGenForCausalLM, tiny_models.CodeGenConfig),
    "detr": (tiny_models.TinyDetrForObjectDetection, tiny_models.DetrConfig),
}


def build(model_name: str, seed: int = 0, dtype: torch.dtype = torch.float32, config: dict | None = None) -> nn.Module:
    """The model `model_name` with weights from `seed`, in `dtype`; `config` overrides its settings."""
    return MODELS[model_name](seed=seed, dtype=dtype, **(config or {}))


def skeleton_builder(model_name: str, config: dict | None = None):
    """A function of no arguments that builds the model's class, as `lambda: OPTForCausalLM(config)` does."""
    model_class, config_class = _SKELETONS[model_name]
    settings = config_class(**(config or {}))
    return lambda: model_class(settings)


def model_inputs(model_name: str, dtype: torch.dtype = torch.float32, config: dict | None = None) -> torch.Tensor:
    """Fixed inputs: the prompt's token ids for the decoder, two seeded images for the detector."""
    if model_name == "codegen":
        return tiny_models.TinyTokenizer().encode(PROMPT)
    return tiny_models.sample_images(2, seed=1, config=tiny_models.DetrConfig(**(config or {})), dtype=dtype)


# Findings --------------------------------------------------------------------------------------------

def _plain(value):
    """Tensors as plain detached copies (a Parameter does not cross as a tensor); meta tensors as a note."""
    if isinstance(value, torch.Tensor):
        return "on the meta device" if value.is_meta else value.detach().clone().as_subclass(torch.Tensor)
    return value


def _types(model: nn.Module) -> dict:
    return {path or "(model)": type(module).__name__ for path, module in model.named_modules()}


def _state(model: nn.Module) -> dict:
    return {key: _plain(tensor) for key, tensor in model.state_dict().items()}


def _meta_tensors(model: nn.Module) -> list:
    named = list(model.named_parameters()) + list(model.named_buffers())
    return sorted(name for name, tensor in named if tensor.is_meta)


@torch.no_grad()
def outputs_of(model, model_name: str, dtype: torch.dtype, config: dict | None) -> dict:
    """The model's outputs on the fixed inputs (and the greedy tokens of the decoder)."""
    inputs = model_inputs(model_name, dtype, config)
    if model_name == "codegen":
        return {
            "hidden": _plain(model.transformer(inputs)),
            "logits": _plain(model(inputs)),
            "tokens": _plain(model.generate(inputs, max_new_tokens=NEW_TOKENS)),
        }
    detection = model(inputs)
    return {"hidden": _plain(model.model(inputs)), "logits": _plain(detection.logits),
            "pred_boxes": _plain(detection.pred_boxes)}


def original_findings(model_name, *, seed=0, dtype=torch.float32, config=None) -> dict:
    """The model before anything is done to it: module types, its Linears, its outputs (no student code)."""
    model = build(model_name, seed, dtype, config)
    linears = {
        path: {"in": m.in_features, "out": m.out_features, "bias": m.bias is not None,
               "bytes": m.weight.element_size()}
        for path, m in model.named_modules() if isinstance(m, nn.Linear)
    }
    return {"types": _types(model), "linears": linears, "state_dict": _state(model),
            "outputs": outputs_of(model, model_name, dtype, config)}


def published_state_dict(model_name, exclude, *, seed=0, dtype=torch.float32, config=None) -> dict:
    """A state dict laid out as lesson 13's published file: made-up int8 codes, no quantization needed.

    Every Linear whose own name is not in `exclude` becomes `int8_weights` (int8, (out, in)),
    `scales` ((out,), in the weight dtype) and, if it had one, its original `bias` ((out,)), as
    the course's functions leave them. Everything else is the model's own state.
    """
    model = build(model_name, seed, dtype, config)
    generator = torch.Generator().manual_seed(seed + 1000)
    state = {}
    for key, tensor in model.state_dict().items():
        path, _, leaf = key.rpartition(".")
        module = model.get_submodule(path) if path else model
        if isinstance(module, nn.Linear) and path.rsplit(".", 1)[-1] not in exclude and leaf == "weight":
            out_features, in_features = tensor.shape
            codes = torch.randint(-127, 128, (out_features, in_features), generator=generator, dtype=torch.int8)
            scales = torch.rand(out_features, generator=generator) * 0.02 + 0.001
            state[f"{path}.int8_weights"] = codes
            state[f"{path}.scales"] = scales.to(tensor.dtype)
        else:
            state[key] = tensor.detach().clone()
    return state


def _returned(value, model) -> object:
    """What a function returned, as plain data: the model itself is named, not sent."""
    if value is model:
        return "the model"
    if isinstance(value, nn.Module):
        return f"a {type(value).__name__} module"
    return value


# Inspections -----------------------------------------------------------------------------------------

@beside_student_code
def footprint_findings(footprint, model_name, *, seed=0, dtype=torch.float32, config=None) -> dict:
    """`footprint(model)` of a freshly built `model_name`."""
    model = build(model_name, seed, dtype, config)
    return {"footprint": _returned(footprint(model), model)}


@beside_student_code
def quantization_findings(quantize, target_class, model_name, exclude, *, seed=0, dtype=torch.float32,
                          config=None) -> dict:
    """`quantize(model, target_class, exclude)` on a freshly built model, and the model afterwards."""
    model = build(model_name, seed, dtype, config)
    returned = quantize(model, target_class, list(exclude))
    return {
        "returned": _returned(returned, model),
        "types": _types(model),
        "state_dict": _state(model),
        "outputs": outputs_of(model, model_name, dtype, config),
    }


def _quantized(model_name, seed, dtype, config, quantize_with) -> nn.Module:
    """A fresh model, quantized with `quantize_with` = (replace function, target class, exclude) if given."""
    model = build(model_name, seed, dtype, config)
    if quantize_with is not None:
        replace, target_class, exclude = quantize_with
        replace(model, target_class, list(exclude))
    return model


def _error_text(error: BaseException) -> str:
    """The error's type and the first line of its message, without terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip().split("\n")[0]
    if isinstance(error, pickle.UnpicklingError):
        # torch's "Weights only load failed." goes on with ways to load an untrusted file anyway.
        text = text.split(". ")[0].rstrip(".")
    return f"{type(error).__name__}: {text[:300]}"


def _is_pickling_error(error: BaseException) -> bool:
    """torch.save could not pickle an object: a class it cannot find by name (the notebook's classes
    in the autograder's worker), a local class, an object that refuses pickling."""
    return isinstance(error, pickle.PicklingError) or (
        isinstance(error, (AttributeError, TypeError)) and "pickle" in str(error).lower())


def _write(save, model_or_state, to: str):
    """Call `save(thing, file)` with an io.BytesIO or a path in a fresh folder.

    Returns (returned, bytes, pickling error text or None): an error of torch.save pickling what it
    was given is a finding; any other error propagates."""
    try:
        if to == "buffer":
            buffer = io.BytesIO()
            returned = save(model_or_state, buffer)
            return returned, buffer.getvalue(), None
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, FILE_NAME)
            returned = save(model_or_state, path)
            if not os.path.exists(path):
                return returned, b"", None
            with open(path, "rb") as file:
                return returned, file.read(), None
    except Exception as error:  # only pickling errors are findings
        if not _is_pickling_error(error):
            raise
        return None, b"", _error_text(error)


def _read_back(data: bytes):
    """(loaded object, error text): the file as `torch.load(..., weights_only=True)` reads it."""
    try:
        return torch.load(io.BytesIO(data), weights_only=True), None
    except Exception as error:  # reported as a finding
        return None, _error_text(error)


def _file_findings(data: bytes, save_error: str | None, model: nn.Module) -> dict:
    """What a file written from `model` holds, read back safely, and whether it is `model.state_dict()`."""
    if save_error is not None:
        loaded, error = None, "nothing was written"
    else:
        loaded, error = _read_back(data) if data else (None, "nothing was written")
    expected = model.state_dict()
    is_mapping = isinstance(loaded, dict)
    return {
        "save_error": save_error,
        "load_error": error,
        "loaded_type": type(loaded).__name__,
        "saved": {str(k): _plain(v) for k, v in loaded.items()} if is_mapping else None,
        "saved_keys": [str(k) for k in loaded] if is_mapping else None,
        "expected_keys": list(expected),
        "matches_model": is_mapping and list(loaded) == list(expected) and all(
            isinstance(loaded[k], torch.Tensor) and loaded[k].dtype == t.dtype and torch.equal(loaded[k], t)
            for k, t in expected.items()
        ),
    }


@beside_student_code
def save_findings(save, model_name, *, quantize_with=None, seed=0, dtype=torch.float32, config=None,
                  to="buffer") -> dict:
    """`save(model, file)` on a fresh (quantized) model; what the file holds, read back safely."""
    model = _quantized(model_name, seed, dtype, config, quantize_with)
    returned, data, save_error = _write(save, model, to)
    return {"returned": _returned(returned, model), **_file_findings(data, save_error, model)}


def _skeleton_differences(skeleton: nn.Module, expected: dict) -> dict | None:
    """How the skeleton's state dict differs from the saved one: keys, and shapes of the shared keys."""
    state = skeleton.state_dict()
    differences = {
        "missing_keys": sorted(set(expected) - set(state)),
        "unexpected_keys": sorted(set(state) - set(expected)),
        "size_mismatches": [
            {"key": key, "saved": list(tensor.shape), "skeleton": list(state[key].shape)}
            for key, tensor in expected.items()
            if key in state and isinstance(tensor, torch.Tensor) and tuple(state[key].shape) != tuple(tensor.shape)
        ],
    }
    return differences if any(differences.values()) else None


def _load(load, target_class, model_name, exclude, config, data_or_path, expected: dict) -> tuple:
    """Call `load(build_model, file, target_class, exclude)`.

    Returns (model, devices each skeleton was built on, how the skeleton differs from `expected`
    when the load raised a RuntimeError that this difference explains, else None)."""
    builder = skeleton_builder(model_name, config)
    built_on, skeletons = [], []

    def build_model():
        built_on.append(torch.empty(0).device.type)  # "meta" inside `with torch.device("meta"):`
        skeletons.append(builder())
        return skeletons[-1]

    with warnings.catch_warnings():
        # A load without assign=True warns once per tensor; the findings report it once.
        warnings.simplefilter("ignore", UserWarning)
        try:
            return load(build_model, data_or_path, target_class, list(exclude)), built_on, None
        except NotImplementedError:
            raise
        except RuntimeError:
            # A strict load_state_dict refuses a skeleton whose keys or shapes differ from the file:
            # the skeleton, replaced in place by the student's code, shows how.
            differences = _skeleton_differences(skeletons[-1], expected) if skeletons else None
            if differences is None:
                raise
            return None, built_on, differences


def _loaded_findings(model, built_on, expected: dict, model_name, dtype, config, load_failed=None) -> dict:
    if load_failed is not None:
        return {"returned": "nothing (loading raised a RuntimeError)", "built_on": built_on,
                "load_failed": load_failed}
    findings = {"returned": type(model).__name__, "built_on": built_on}
    if not isinstance(model, nn.Module):
        return findings
    keys = list(model.state_dict())
    meta = _meta_tensors(model)
    findings.update(
        types=_types(model),
        missing_keys=sorted(set(expected) - set(keys)),
        unexpected_keys=sorted(set(keys) - set(expected)),
        meta_tensors=meta,
        state_dict=_state(model),
        outputs=None if meta else outputs_of(model, model_name, dtype, config),
    )
    return findings


@beside_student_code
def load_findings(load, target_class, model_name, exclude, state_dict, *, dtype=torch.float32, config=None,
                  to="buffer") -> dict:
    """Save `state_dict` (the course's published file), then `load(build_model, file, target_class, exclude)`."""
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    data = buffer.getvalue()
    if to == "buffer":
        model, built_on, failed = _load(load, target_class, model_name, exclude, config, io.BytesIO(data), state_dict)
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, FILE_NAME)
            with open(path, "wb") as file:
                file.write(data)
            model, built_on, failed = _load(load, target_class, model_name, exclude, config, path, state_dict)
    return _loaded_findings(model, built_on, state_dict, model_name, dtype, config, failed)


@beside_student_code
def round_trip_findings(save, load, replace, target_class, model_name, exclude, *, seed=0,
                        dtype=torch.float32, config=None) -> dict:
    """Quantize with `replace`, save with `save`, load with `load`: are the outputs identical?

    `file` tells what `save` wrote (as `save_findings` does); when it is not the model's state dict
    the round trip stops there, since no load can give the saved model back from it."""
    model = _quantized(model_name, seed, dtype, config, (replace, target_class, exclude))
    _, data, save_error = _write(save, model, "buffer")
    file = _file_findings(data, save_error, model)
    file.pop("saved")
    if not file["matches_model"]:
        return {"file": file, "identical_outputs": False}
    loaded, built_on, failed = _load(load, target_class, model_name, exclude, config, io.BytesIO(data),
                                     model.state_dict())
    findings = _loaded_findings(loaded, built_on, model.state_dict(), model_name, dtype, config, failed)
    findings["file"] = file
    before = outputs_of(model, model_name, dtype, config)
    after = findings.get("outputs")
    findings["identical_outputs"] = after is not None and all(
        isinstance(after[k], torch.Tensor) and after[k].dtype == v.dtype and torch.equal(after[k], v)
        for k, v in before.items()
    )
    findings.pop("state_dict", None)
    return findings
