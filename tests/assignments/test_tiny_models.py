"""quantlab.tiny_models and quantlab.model_checks: seeded models, footprint arithmetic, whole-model checks."""

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
    found = quantization_findings(ref.quantize_model, ref.W8A16LinearLayer, model_name, exclude, dtype=dtype, config=config)
    before, after = found["returned"]
    linears = original_findings(model_name, dtype=dtype, config=config)["linears"]
    assert after == model_checks.footprint_after(before, linears, exclude) < before
    replaced = model_checks.replaced_paths(linears, exclude)
    assert sorted(p for p, t in found["types"].items() if t == "W8A16LinearLayer") == replaced


def test_published_fixtures():
    assert ref.model_memory_footprint(tiny_models.decoder()) == 464896
    assert ref.quantize_model(tiny_models.decoder(dtype=torch.bfloat16), ref.W8A16LinearLayer, ["lm_head"]) == (232448, 136448)
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
