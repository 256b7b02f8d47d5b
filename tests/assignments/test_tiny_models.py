"""quantlab.tiny_models and quantlab.model_checks: seeded models, footprint arithmetic, whole-model checks."""

import pickle
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

import quant_reference as ref
from quantlab import checks, model_checks, tiny_models
from quantlab.model_findings import original_findings, quantization_findings

DETR_EXCLUDE = ["0", "1", "2", "class_labels_classifier"]


def _same_state(a, b) -> bool:
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("build", [tiny_models.decoder, tiny_models.detector])
def test_a_seed_gives_the_same_model_even_when_built_in_threads(build):
    alone = build(seed=3).state_dict()
    torch.manual_seed(123)  # the global generator plays no part
    with ThreadPoolExecutor(4) as pool:
        built = list(pool.map(lambda _: build(seed=3).state_dict(), range(8)))
    assert all(_same_state(alone, state) for state in built)
    assert not _same_state(alone, build(seed=4).state_dict())


def test_a_skeleton_on_the_meta_device_holds_no_values():
    with torch.device("meta"):
        skeleton = tiny_models.TinyCodeGenForCausalLM(tiny_models.CodeGenConfig())
    assert all(t.is_meta for t in skeleton.state_dict().values())


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_the_decoder_completes_the_course_prompt_before_and_after_quantizing(dtype):
    tokenizer = tiny_models.TinyTokenizer()
    prompt = tokenizer.encode("def hello_world():")
    model = tiny_models.decoder(dtype=dtype)
    expected = 'def hello_world():\n    print("Hello World")'
    assert tokenizer.decode(model.generate(prompt, max_new_tokens=25)) == expected
    ref.quantize_model(model, ref.W8A16LinearLayer, ["lm_head"])
    assert tokenizer.decode(model.generate(prompt, max_new_tokens=25)) == expected


@pytest.mark.parametrize(
    ("model_name", "exclude", "dtype", "config"),
    [
        ("codegen", ["lm_head"], torch.bfloat16, None),
        ("codegen", [], torch.float32, {"num_layers": 3, "attention_bias": False}),
        ("detr", DETR_EXCLUDE, torch.float32, None),
        ("detr", [], torch.float16, {"encoder_layers": 2}),
    ],
)
def test_each_replaced_linear_saves_what_the_arithmetic_says(model_name, exclude, dtype, config):
    found = quantization_findings(ref.quantize_model, ref.W8A16LinearLayer, model_name, exclude, dtype=dtype,
                                  config=config)
    before, after = found["returned"]
    linears = original_findings(model_name, dtype=dtype, config=config)["linears"]
    assert after == model_checks.footprint_after(before, linears, exclude) < before
    replaced = model_checks.replaced_paths(linears, exclude)
    assert sorted(p for p, t in found["types"].items() if t == "W8A16LinearLayer") == replaced


def test_published_fixtures():
    assert ref.model_memory_footprint(tiny_models.decoder()) == 464896
    assert ref.quantize_model(tiny_models.decoder(dtype=torch.bfloat16), ref.W8A16LinearLayer,
                              ["lm_head"]) == (232448, 136448)
    assert ref.quantize_model(tiny_models.detector(), ref.W8A16LinearLayer, DETR_EXCLUDE) == (105352, 46216)


def test_type_check_messages_say_what_went_wrong():
    want = {"(model)": "M", "a.fc": "W8A16LinearLayer", "b.0": "Linear", "c.fc": "W8A16LinearLayer"}
    with pytest.raises(checks.CheckFailed, match="None was replaced.*in place"):
        model_checks.expect_types({**want, "a.fc": "Linear", "c.fc": "Linear"}, want)
    with pytest.raises(checks.CheckFailed, match="1 Linear layer.*`c.fc`.*any depth"):
        model_checks.expect_types({**want, "c.fc": "Linear"}, want)
    with pytest.raises(checks.CheckFailed, match=r"`b.0` should stay nn.Linear.*\['0'\]"):
        model_checks.expect_types({**want, "b.0": "W8A16LinearLayer"}, want, exclude=["0"])
    model_checks.expect_types(dict(want), want)


def test_loaded_model_messages():
    good = {"returned": "M", "types": {}, "missing_keys": [], "unexpected_keys": [], "meta_tensors": []}
    model_checks.expect_loaded(good, what="model")
    with pytest.raises(checks.CheckFailed, match="assign=True"):
        model_checks.expect_loaded({**good, "meta_tensors": ["w"]}, what="model")
    with pytest.raises(checks.CheckFailed, match="missing keys `a.scales`"):
        model_checks.expect_loaded({**good, "missing_keys": ["a.scales"]}, what="model")
    with pytest.raises(checks.CheckFailed, match="forget a `return`"):
        model_checks.expect_loaded({"returned": "NoneType", "built_on": ["meta"]}, what="model")


def test_a_footprint_in_megabytes_is_told_to_count_bytes():
    with pytest.raises(checks.CheckFailed, match="number of bytes.*1e6"):
        model_checks.expect_bytes(0.464896, 464896, what="footprint")
    with pytest.raises(checks.CheckFailed, match="464000"):
        model_checks.expect_bytes(464000, 464896, what="footprint")
    assert model_checks.expect_bytes(464896, 464896, what="footprint") == 464896


# L4-D: errors that findings explain, and the checks that report them ------------------------------

def _load_with(replace):
    """The course's load_quantized_model, with the replacement given."""
    def load(build_model, file, target_class, exclude):
        with torch.device("meta"):
            model = build_model()
        replace(model, target_class, exclude)
        model.load_state_dict(torch.load(file, weights_only=True), strict=True, assign=True)
        return model
    return load


def _replace_swapped(module, target_class, exclude):
    for name, child in module.named_children():
        if isinstance(child, torch.nn.Linear) and name not in exclude:
            bias = child.bias
            setattr(module, name, target_class(child.out_features, child.in_features, bias is not None,
                                               child.weight.dtype))
            if bias is not None:
                getattr(module, name).bias = bias
        else:
            _replace_swapped(child, target_class, exclude)


def test_a_strict_load_refused_for_swapped_sizes_is_a_finding_and_a_check():
    from quantlab.model_findings import load_findings, published_state_dict

    state = published_state_dict("codegen", ["lm_head"])
    found = load_findings(_load_with(_replace_swapped), ref.W8A16LinearLayer, "codegen", ["lm_head"], state)
    failed = found["load_failed"]
    assert found["built_on"] == ["meta"] and failed["missing_keys"] == failed["unexpected_keys"] == []
    first = failed["size_mismatches"][0]
    assert first == {"key": "transformer.h.0.attn.qkv_proj.int8_weights", "saved": [192, 64], "skeleton": [64, 192]}
    with pytest.raises(checks.CheckFailed,
                       match=r"wrong way round.*target_class\(child.in_features, child.out_features") as public:
        model_checks.expect_loaded(found, what="tiny CodeGen", reveal=True)
    assert "(in your skeleton (64, 192), in the file (192, 64))" in str(public.value)
    with pytest.raises(checks.CheckFailed, match="wrong way round") as hidden:
        model_checks.expect_loaded(found, what="CodeGen")
    assert not re.search(r"\d+, \d+", str(hidden.value)), "a hidden case shows the saved shapes"
    # the reference's load of the same file: no failure
    assert "load_failed" not in load_findings(ref.load_quantized_model, ref.W8A16LinearLayer, "codegen", ["lm_head"],
                                              state)


def test_other_load_differences_and_errors():
    from quantlab.model_findings import load_findings, published_state_dict

    with pytest.raises(checks.CheckFailed, match=r"differs from the saved one.*Keep the original bias"):
        model_checks.expect_loaded({"load_failed": {"missing_keys": [], "unexpected_keys": [], "size_mismatches": [
            {"key": "a.bias", "saved": [4], "skeleton": [1, 4]}]}}, what="model")
    with pytest.raises(checks.CheckFailed, match=r"in the file but not in your skeleton: `a.scales`; in your skeleton "
                                                 r"but not in the file: `a.weight`"):
        model_checks.expect_loaded({"load_failed": {"missing_keys": ["a.scales"], "unexpected_keys": ["a.weight"],
                                                    "size_mismatches": []}}, what="model")
    state = published_state_dict("detr", DETR_EXCLUDE)

    def load_raising(build_model, file, target_class, exclude):
        with torch.device("meta"):
            model = build_model()
        ref.replace_linear_with_target(model, target_class, exclude)  # a skeleton that fits the file
        raise RuntimeError("something else")

    def stub(build_model, file, target_class, exclude):
        raise NotImplementedError

    # an error that the skeleton does not explain, and the hand-out's stub, stay as they are
    with pytest.raises(RuntimeError, match="something else"):
        load_findings(load_raising, ref.W8A16LinearLayer, "detr", DETR_EXCLUDE, state)
    with pytest.raises(NotImplementedError):
        load_findings(stub, ref.W8A16LinearLayer, "detr", DETR_EXCLUDE, state)


class _Unpicklable(torch.nn.Module):
    def __reduce_ex__(self, protocol):
        raise pickle.PicklingError("Can't pickle <class '__main__.W8A16LinearLayer'>: attribute lookup failed")


def test_a_model_that_cannot_be_pickled_is_a_finding_and_a_check():
    from quantlab.model_findings import round_trip_findings, save_findings

    def save_model(model, file):
        model.extra = _Unpicklable()
        torch.save(model, file)

    def save_broken(model, file):
        raise ValueError("not a pickling error")

    for to in ("buffer", "file"):
        found = save_findings(save_model, "codegen", to=to)
        assert found["save_error"].startswith("PicklingError: Can't pickle") and found["saved"] is None
        with pytest.raises(checks.CheckFailed, match=r"^Saving the tiny CodeGen failed: torch.save could not pickle.*"
                                                     r"Save model.state_dict\(\) instead"):
            model_checks.expect_saved(found, what="tiny CodeGen")
    with pytest.raises(ValueError, match="not a pickling error"):
        save_findings(save_broken, "codegen")
    found = round_trip_findings(save_model, ref.load_quantized_model, ref.replace_linear_with_target_and_quantize,
                                ref.W8A16LinearLayer, "codegen", ["lm_head"])
    assert found["identical_outputs"] is False and "built_on" not in found  # the load never ran
    with pytest.raises(checks.CheckFailed, match=r"^The round trip stopped at your save_quantized_state_dict\. Saving"):
        model_checks.expect_round_trip(found, what="tiny CodeGen")


def test_a_file_without_the_buffers_stops_the_round_trip_at_saving():
    from quantlab.model_findings import round_trip_findings

    def save_parameters(model, file):
        torch.save(dict(model.named_parameters()), file)

    found = round_trip_findings(save_parameters, ref.load_quantized_model, ref.replace_linear_with_target_and_quantize,
                                ref.W8A16LinearLayer, "codegen", ["lm_head"])
    assert "saved" not in found["file"] and found["file"]["saved_keys"]
    with pytest.raises(checks.CheckFailed, match=r"stopped at your save_quantized_state_dict\. The saved state dict .* "
                                                 r"16 key\(s\) missing .*buffers"):
        model_checks.expect_round_trip(found, what="tiny CodeGen")
    found = round_trip_findings(ref.save_quantized_state_dict, ref.load_quantized_model,
                                ref.replace_linear_with_target_and_quantize, ref.W8A16LinearLayer, "codegen",
                                ["lm_head"])
    assert found["identical_outputs"] is True
    model_checks.expect_round_trip(found, what="tiny CodeGen")
    with pytest.raises(checks.CheckFailed, match="does not give the same outputs"):
        model_checks.expect_round_trip({**found, "identical_outputs": False}, what="tiny CodeGen")
