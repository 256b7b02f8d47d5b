from otter.test_files import test_case
import torch
from quantlab.layer_findings import RECORDING, expect_replacement, replacement_findings
import quant_reference as ref


def _replacement_compare(student, model, exclude, target=RECORDING, student_target=None, **options):
    want = replacement_findings(ref.replace_linear_with_target, target if target == RECORDING else ref.W8A16LinearLayer,
                                model, exclude, **options)
    got = replacement_findings(student, student_target or target, model, exclude, **options)
    label = f"replace_linear_with_target on the {model} model, excluding {exclude}"
    expect_replacement(got, want, call=label, reveal=False)


@test_case(name="hidden: nested Sequentials: Linears at every depth are replaced", points=1, hidden=True)
def hidden_replace_nested(replace_linear_with_target):
    _replacement_compare(replace_linear_with_target, "nested", [])
    _replacement_compare(replace_linear_with_target, "deep", [])


@test_case(name="hidden: exclusion compares the child's own name, never a substring", points=1, hidden=True)
def hidden_replace_exclude_by_name(replace_linear_with_target):
    _replacement_compare(replace_linear_with_target, "eleven", ["1"])
    _replacement_compare(replace_linear_with_target, "eleven", ["1", "10"])


@test_case(name="hidden: an excluded name applies at every depth; dotted paths never match", points=1, hidden=True)
def hidden_replace_exclude_at_depth(replace_linear_with_target):
    _replacement_compare(replace_linear_with_target, "deep", ["lm_head", "0"])
    _replacement_compare(replace_linear_with_target, "deep", ["head.0", "blocks.1.lm_head"])
    _replacement_compare(replace_linear_with_target, "deep", ["blocks"])


@test_case(name="hidden: bfloat16 model: constructor arguments, biases and state_dict", points=1, hidden=True)
def hidden_replace_bfloat16(replace_linear_with_target):
    _replacement_compare(replace_linear_with_target, "deep", ["lm_head"], dtype=torch.bfloat16)
    _replacement_compare(replace_linear_with_target, "non_square", [], dtype=torch.bfloat16)


@test_case(name="hidden: with your W8A16LinearLayer on a deeper model: types and state_dict", points=1, hidden=True)
def hidden_replace_with_your_layer(replace_linear_with_target, W8A16LinearLayer):
    _replacement_compare(replace_linear_with_target, "deep", ["lm_head"], target=None, student_target=W8A16LinearLayer)
    _replacement_compare(replace_linear_with_target, "non_square", [], target=None, student_target=W8A16LinearLayer,
                         dtype=torch.bfloat16)
