from otter.test_files import test_case
import torch
from quantlab.layer_findings import RECORDING, expect_replacement, replacement_findings
import quant_reference as ref


def _quantize_compare(student, model, exclude, student_target=None, **options):
    reference_target = RECORDING if student_target is None else ref.W8A16LinearLayer
    want = replacement_findings(ref.replace_linear_with_target_and_quantize, reference_target, model, exclude,
                                **options)
    got = replacement_findings(student, student_target or RECORDING, model, exclude, **options)
    label = f"replace_linear_with_target_and_quantize on the {model} model, excluding {exclude}"
    if student_target is not None:
        # Your own layer's numbers are graded in lab L4-A; here, what the replacement built.
        want = {key: want[key] for key in ("returned", "types", "replaced", "state_dict", "bias")}
    expect_replacement(got, want, call=label, reveal=False)


def _inputs(g, width, dtype=torch.float32):
    return [torch.randn(3, width, generator=g).to(dtype)]


@test_case(name="hidden: nested Sequentials: every Linear replaced and quantized with its own weight",
           points=1, hidden=True)
def hidden_quantize_nested(replace_linear_with_target_and_quantize):
    g = torch.Generator().manual_seed(1200)
    _quantize_compare(replace_linear_with_target_and_quantize, "nested", [], inputs=_inputs(g, 4))
    _quantize_compare(replace_linear_with_target_and_quantize, "deep", [], inputs=_inputs(g, 8))


@test_case(name="hidden: exclusion by the child's own name; excluded layers are not quantized", points=1, hidden=True)
def hidden_quantize_exclude(replace_linear_with_target_and_quantize):
    g = torch.Generator().manual_seed(1201)
    _quantize_compare(replace_linear_with_target_and_quantize, "eleven", ["1"], inputs=_inputs(g, 4))
    _quantize_compare(replace_linear_with_target_and_quantize, "deep", ["lm_head", "0"], inputs=_inputs(g, 8))
    _quantize_compare(replace_linear_with_target_and_quantize, "deep", ["head.0", "blocks"], inputs=_inputs(g, 8))


@test_case(name="hidden: bfloat16 model: arguments, quantized weights and biases carried over", points=1, hidden=True)
def hidden_quantize_bfloat16(replace_linear_with_target_and_quantize):
    g = torch.Generator().manual_seed(1202)
    _quantize_compare(replace_linear_with_target_and_quantize, "deep", ["lm_head"], dtype=torch.bfloat16,
                      inputs=_inputs(g, 8, torch.bfloat16))
    _quantize_compare(replace_linear_with_target_and_quantize, "non_square", [], dtype=torch.bfloat16,
                      inputs=_inputs(g, 16, torch.bfloat16))


@test_case(name="hidden: with your W8A16LinearLayer on a deeper model: types, state_dict, biases",
           points=1, hidden=True)
def hidden_quantize_with_your_layer(replace_linear_with_target_and_quantize, W8A16LinearLayer):
    _quantize_compare(replace_linear_with_target_and_quantize, "deep", ["lm_head"], student_target=W8A16LinearLayer)
    _quantize_compare(replace_linear_with_target_and_quantize, "non_square", [], student_target=W8A16LinearLayer,
                      dtype=torch.bfloat16)
