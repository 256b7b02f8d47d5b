# The search a hostile submission makes for the grader's reference while the reference stands in for one of
# its helpers; each submission (l3b.py, l4c.py) is this file followed by its own functions.
#
# It searches everything the process can reach: the stand-in's code, globals and closure (a function's, or
# every method of a class's), every object the garbage collector knows, sys.modules, other processes and the
# whole disk. Each way of searching is first shown to work on something of the student's own (a control), so
# a submission that finds nothing looked, with working tools, and the reference was not there.
import gc
import os
import sys
import types

#: What any trace of the reference holds: its modules' names and paths, its docstrings' words. (torch has
#: names that contain "quant_reference" too, so the bare word alone is not a trace.)
FORBIDDEN = ("quant_reference.", "quant_reference/", "/solutions/", "Hidden reference", "positive finite number")
FOUND = []
SEARCHED = []


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


def _search_stand_in(helper, own=None):
    """The stand-in itself: its code, its globals, its closure; for a class, every method of it and of the
    classes it comes from (torch's nn.Module and object aside), its module and its name."""
    if isinstance(helper, type):
        found = _forbidden([helper.__module__, helper.__qualname__, repr(helper)])
        for klass in helper.__mro__:
            if klass.__module__.startswith("torch") or klass is object:
                continue
            found += _forbidden([klass.__module__, klass.__qualname__])
            for member in vars(klass).values():
                member = getattr(member, "__func__", member)
                if isinstance(member, types.FunctionType):
                    found += _search_stand_in(member, own)
        return found
    found = []
    found += _forbidden(_texts_of(helper.__code__))
    found += _forbidden(list(helper.__globals__))
    found += _forbidden([v for v in helper.__globals__.values() if isinstance(v, str)])
    found += _forbidden([getattr(v, "__name__", "") or "" for v in helper.__globals__.values()])
    found += _forbidden([getattr(v, "__file__", "") or "" for v in helper.__globals__.values()])
    for cell in helper.__closure__ or ():
        value = cell.cell_contents
        found += _forbidden([repr(type(value)), getattr(value, "__module__", "") or ""])
        if isinstance(value, types.FunctionType) and value is not own:
            found += _forbidden(_texts_of(value.__code__))
    return found


def _search_process(own):
    """Every function, code object and module in the process, and sys.modules; control: the garbage collector
    shows `own`, the student's own helper."""
    found, own_seen = [], False
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType):
            own_seen = own_seen or obj is own
            if obj.__code__.co_filename.startswith("<cell"):
                continue  # this file's own functions hold the words they search for
            found += _forbidden([obj.__module__ or "", obj.__qualname__])
            found += _forbidden(_texts_of(obj.__code__))
        elif isinstance(obj, types.CodeType) and not obj.co_filename.startswith("<cell"):
            found += _forbidden(_texts_of(obj))
        elif isinstance(obj, types.ModuleType):
            found += _forbidden([obj.__name__, getattr(obj, "__file__", "") or ""])
        elif isinstance(obj, type):
            own_seen = own_seen or obj is own
            found += _forbidden([obj.__module__ or "", obj.__qualname__])
    if not own_seen:
        found.append("CONTROL: the garbage collector did not show the student's own helper")
    # Modules; control: torch is there.
    if "torch" not in sys.modules:
        found.append("CONTROL: sys.modules has no torch")
    found += _forbidden(list(sys.modules))
    found += _forbidden([getattr(m, "__file__", "") or "" for m in list(sys.modules.values())])
    return found


def _search_everywhere(helpers, own):
    """The stand-ins `helpers`, and once the process and the disk (that search takes seconds)."""
    found = [f for helper in helpers for f in _search_stand_in(helper, own)]
    if not SEARCHED:
        SEARCHED.append(_search_process(own) + _search_disk())
    return found + SEARCHED[0]
