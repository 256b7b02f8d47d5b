from otter.test_files import test_case
import torch
from quantlab import model_checks
import quant_reference as ref


def _footprint_compare(student, model_name, **options):
    want = footprint_findings(ref.model_memory_footprint, model_name, **options)["footprint"]
    got = footprint_findings(student, model_name, **options)["footprint"]
    model_checks.expect_bytes(got, want, what=f"footprint of a {model_name} model (bytes)", reveal=False)


@test_case(name="hidden: parameters and buffers of many dtypes, a non-persistent buffer, a shared weight",
           points=1, hidden=True)
def hidden_footprint_zoo(model_memory_footprint):
    _footprint_compare(model_memory_footprint, "zoo")


@test_case(name="hidden: a larger CodeGen in float16 and a DETR in bfloat16", points=1, hidden=True)
def hidden_footprint_other_dtypes(model_memory_footprint):
    _footprint_compare(model_memory_footprint, "codegen", dtype=torch.float16, seed=4,
                       config={"num_layers": 3, "attention_bias": False})
    _footprint_compare(model_memory_footprint, "detr", dtype=torch.bfloat16, seed=2, config={"encoder_layers": 2})
