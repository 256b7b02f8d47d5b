# An L3-B submission that hunts for the grader's reference while the reference stands in for its helper.
#
# Its get_q_scale_symmetric is wrong (it divides by 128), so linear_q_symmetric fails with it and the grader
# runs that question again with a stand-in for get_q_scale_symmetric. linear_q_symmetric gives the right
# answer only when the get_q_scale_symmetric it sees is not its own (the stand-in) AND a search of
# everything the process can reach found nothing of the reference: the stand-in's code, globals and
# closure, every object the garbage collector knows, sys.modules, other processes and the whole disk.
# Each way of searching is first shown to work on something of the student's own (a control), so
# full marks mean: it looked, with working tools, and the reference was not there.
import gc
import os
import sys
import types

import torch

#: What any trace of the reference holds: its modules' names and paths, its docstrings' words. (torch has
#: names that contain "quant_reference" too, so the bare word alone is not a trace.)
FORBIDDEN = ("quant_reference.", "quant_reference/", "/solutions/", "Hidden reference", "positive finite number")
FOUND = []


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


def _texts_of(code):
    """Every string a code object holds, its nested code objects included."""
    yield code.co_filename
    yield code.co_name
    yield from code.co_names
    yield from code.co_varnames
    for const in code.co_consts:
        if isinstance(const, str):
            yield const
        elif isinstance(const, types.CodeType):
            yield from _texts_of(const)


def _forbidden(texts):
    return [t for t in texts if isinstance(t, str) and (t == "quant_reference" or any(w in t for w in FORBIDDEN))]


def _search_disk():
    """Every file name on the disk the process sees, and the command lines of the processes; control: the
    walk finds quantlab in the scratch folder."""
    hits, saw_own = [], False
    for root, folders, files in os.walk("/"):
        if root == "/" and "proc" in folders:
            folders.remove("proc")
        for name in folders + files:
            if "quant_reference" in name:
                hits.append(os.path.join(root, name))
            if name == "quantlab":
                saw_own = True
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().decode(errors="replace")
        except OSError:
            continue
        hits += _forbidden([command])
    return hits if saw_own else hits + ["CONTROL: the disk search did not find quantlab"]


def _search_stand_in(helper):
    """The stand-in itself: its code, its globals, its closure."""
    found = []
    found += _forbidden(_texts_of(helper.__code__))
    found += _forbidden(list(helper.__globals__))
    found += _forbidden([v for v in helper.__globals__.values() if isinstance(v, str)])
    found += _forbidden([getattr(v, "__name__", "") or "" for v in helper.__globals__.values()])
    found += _forbidden([getattr(v, "__file__", "") or "" for v in helper.__globals__.values()])
    for cell in helper.__closure__ or ():
        value = cell.cell_contents
        found += _forbidden([repr(type(value)), getattr(value, "__module__", "") or ""])
        if isinstance(value, types.FunctionType) and value is not OWN_HELPER:
            found += _forbidden(_texts_of(value.__code__))
    return found


def _search_process():
    """Every function, code object and module in the process, and sys.modules."""
    found, own_seen = [], False
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType):
            own_seen = own_seen or obj is OWN_HELPER
            if obj.__code__.co_filename.startswith("<cell"):
                continue  # this file's own functions hold the words they search for
            found += _forbidden([obj.__module__ or "", obj.__qualname__])
            found += _forbidden(_texts_of(obj.__code__))
        elif isinstance(obj, types.CodeType) and not obj.co_filename.startswith("<cell"):
            found += _forbidden(_texts_of(obj))
        elif isinstance(obj, types.ModuleType):
            found += _forbidden([obj.__name__, getattr(obj, "__file__", "") or ""])
    if not own_seen:
        found.append("CONTROL: the garbage collector did not show the student's own helper")
    # Modules; control: torch is there.
    if "torch" not in sys.modules:
        found.append("CONTROL: sys.modules has no torch")
    found += _forbidden(list(sys.modules))
    found += _forbidden([getattr(m, "__file__", "") or "" for m in list(sys.modules.values())])
    return found


SEARCHED = []


def linear_q_symmetric(tensor, dtype=torch.int8):
    helper = get_q_scale_symmetric
    if helper is OWN_HELPER:
        found = ["not a stand-in"]
    else:
        found = _search_stand_in(helper)
        if not SEARCHED:  # the process and the disk once: that search takes seconds
            SEARCHED.append(_search_process() + _search_disk())
        found += SEARCHED[0]
    FOUND.extend(found)
    scale = helper(tensor, dtype=dtype)
    if found:
        return torch.zeros_like(tensor, dtype=dtype), -1.0  # wrong on purpose: it saw its own helper, or the reference
    return linear_q_with_scale_and_zero_point(tensor, scale=scale, zero_point=0, dtype=dtype), scale


def quantization_error(tensor, dequantized_tensor):
    if FOUND and FOUND != ["not a stand-in"] * len(FOUND):
        raise RuntimeError("FOUND " + "; ".join(sorted(set(FOUND) - {"not a stand-in"}))[:3000])
    return (dequantized_tensor - tensor).square().mean()
