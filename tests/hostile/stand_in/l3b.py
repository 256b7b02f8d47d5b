

# An L3-B submission (after search.py). Its get_q_scale_symmetric is wrong (it divides by 128), so
# linear_q_symmetric fails with it and the grader runs that question again with a stand-in for
# get_q_scale_symmetric. linear_q_symmetric gives the right answer only when the get_q_scale_symmetric it
# sees is not its own (the stand-in) AND the search found nothing of the reference; quantization_error, graded
# next, raises what was found.
import torch


def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
    scaled_and_shifted_tensor = tensor / scale + zero_point
    rounded_tensor = torch.round(scaled_and_shifted_tensor)
    q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
    return rounded_tensor.clamp(q_min, q_max).to(dtype)


def linear_dequantization(quantized_tensor, scale, zero_point):
    return scale * (quantized_tensor.float() - zero_point)


def get_q_scale_symmetric(tensor, dtype=torch.int8):
    return tensor.abs().max().item() / (torch.iinfo(dtype).max + 1)


OWN_HELPER = get_q_scale_symmetric


def linear_q_symmetric(tensor, dtype=torch.int8):
    helper = get_q_scale_symmetric
    found = ["not a stand-in"] if helper is OWN_HELPER else _search_everywhere([helper], OWN_HELPER)
    FOUND.extend(found)
    scale = helper(tensor, dtype=dtype)
    if found:
        return torch.zeros_like(tensor, dtype=dtype), -1.0  # wrong on purpose: it saw its own helper, or the reference
    return linear_q_with_scale_and_zero_point(tensor, scale=scale, zero_point=0, dtype=dtype), scale


def quantization_error(tensor, dequantized_tensor):
    if FOUND and FOUND != ["not a stand-in"] * len(FOUND):
        raise RuntimeError("FOUND " + "; ".join(sorted(set(FOUND) - {"not a stand-in"}))[:3000])
    return (dequantized_tensor - tensor).square().mean()
