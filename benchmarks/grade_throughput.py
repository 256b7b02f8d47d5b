"""Grading throughput and memory of `grader grade` against `otter run` with the same zip, and issue 9's targets.

    .venv/bin/python benchmarks/grade_throughput.py [--count 200] [--repeat 2] [--otter-sample 6] [--quick] [--cold]

What it does, in one run (`make bench`):

1. builds the lab's autograder zip (`grader build`) and a class of `--count` L2-A submissions:
   four in five `.py`, one in five `.ipynb`; right (the course's code and every correct style of
   tests/mistakes.py) and wrong (every catalogued mistake that affects L2-A, from
   solutions/quant_mistakes via `quant_mistakes.source(key)`, and the untouched stub);
2. grades the class as one batch with this grader, `python -m grader grade -j 2` in a subprocess
   (so its imports, sandbox self-test and test parsing count), `--repeat` times; and a sample of
   `--otter-sample` of the same files with `otter run -a dist/autograder/L2-A.zip`, two at a
   time, `--repeat` times (otter's cost per submission is flat: each run starts a fresh
   interpreter and imports torch and otter); then a real batch of 1,000 `.py` submissions with
   this grader (`--quick` extrapolates it from the class instead);
3. polls /proc every 50 ms for the peak memory (RSS) of each process tree: each sandbox of the
   grader on its own (every child process tree of the grader is one sandbox), all of them
   together, the grader's own process, and each `otter run` tree;
4. prints both throughputs and their ratio (with the spread over the repeats), the grader's time
   per submission split into start, load, judge, diagnose and report, for `.py` and `.ipynb`
   (from the `timing` the grader records in run.json), the peaks, whether both runners give the
   same question scores on the sample, and issue 9's targets, each with whether it is met.

Grading is warm (the default of `grade`); `--cold` measures `grade --cold` instead.
Nothing here asserts: the targets are printed, and the machine's load shows in the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from grader.labs import get_lab, make_tests_importable  # noqa: E402

make_tests_importable()
import nbformat  # noqa: E402
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook  # noqa: E402

import mistakes  # noqa: E402

PYTHON = sys.executable
OTTER = str(Path(sys.executable).with_name("otter"))
LAB = "L2-A"
JOBS = 2
PAGE = os.sysconf("SC_PAGE_SIZE")
GIB = 1024 ** 3
MIB = 1024 ** 2

TARGETS = {
    "ratio": 25.0,  # times otter's throughput
    "py_rate": 15.0,  # .py submissions per second on L2-A
    "thousand_seconds": 120.0,  # 1,000 L2-A submissions with all their reports
    "memory": 2 * GIB,  # all sandboxes together at -j 2
}


# The class -----------------------------------------------------------------------------------------

def sources(lab) -> list[tuple[str, str, bool]]:
    """(name, source, right) for every correct style and every mistake of `lab`, and the stub."""
    right = [(f"ok_{style}", source, True) for style, source in mistakes.styles_for(lab).items()]
    wrong = [(f"wrong_{key.replace('/', '_')}", mistakes.mistake_source(key), False)
             for key, mistake in mistakes.MISTAKES.items() if lab.id in mistake.affects]
    return right + wrong + [("stub", mistakes.STUB, False)]


def notebook(source: str):
    """The source as a student's notebook: a markdown cell, then one code cell per top-level block."""
    blocks, current = [], []
    for line in source.splitlines():
        starts_block = line.startswith(("def ", "class ", "@"))
        if starts_block and current and not current[-1].startswith("@"):
            blocks.append("\n".join(current).strip("\n"))
            current = []
        current.append(line)
    blocks.append("\n".join(current).strip("\n"))
    cells = [new_markdown_cell("# L2-A: linear quantization")] + [new_code_cell(b) for b in blocks if b.strip()]
    book = new_notebook(cells=cells)
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return book


def build_class(folder: Path, count: int) -> dict[str, list[Path]]:
    """`count` submissions in `folder`, one in five a notebook, cycling through right and wrong sources."""
    lab = get_lab(LAB)
    pool = sources(lab)
    made: dict[str, list[Path]] = {"py": [], "ipynb": []}
    folder.mkdir(parents=True)
    for i in range(count):
        name, source, _ = pool[i % len(pool)]
        if i % 5 == 4:
            path = folder / f"s{i:04d}_{name}.ipynb"
            nbformat.write(notebook(source), path)
            made["ipynb"].append(path)
        else:
            path = folder / f"s{i:04d}_{name}.py"
            path.write_text(source)
            made["py"].append(path)
    return made


# Memory: peak RSS of process trees, by polling /proc ------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _children(p)
    return out


class TreeMemory:
    """Polls a process's tree: its own RSS, and the RSS of each child's subtree (a sandbox) on its own."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval = pid, interval
        self.own = 0  # peak RSS of the process itself
        self.whole = 0  # peak RSS of the whole tree
        self.children: dict[int, int] = {}  # child pid -> peak RSS of its subtree (one sandbox each)
        self.together = 0  # peak of the children's subtrees summed at the same moment
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            own = _rss(self.pid)
            total = 0
            for child in _children(self.pid):
                rss = sum(_rss(p) for p in _tree(child))
                self.children[child] = max(self.children.get(child, 0), rss)
                total += rss
            self.own, self.together = max(self.own, own), max(self.together, total)
            self.whole = max(self.whole, own + total)
            self._stop.wait(self.interval)

    def stop(self) -> TreeMemory:
        self._stop.set()
        self._thread.join()
        return self


def run_measured(command: list[str], cwd: Path) -> tuple[float, TreeMemory, subprocess.CompletedProcess]:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(process.pid)
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    memory.stop()
    return seconds, memory, subprocess.CompletedProcess(command, process.returncode, out, err)


# The two runners -----------------------------------------------------------------------------------

def grade(folder: Path, output: Path, warm: bool = False) -> dict:
    command = [PYTHON, "-m", "grader", "grade", LAB, str(folder), "-o", str(output), "-j", str(JOBS)]
    command += ["--warm"] if warm else []
    seconds, memory, done = run_measured(command, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"grader grade failed ({done.returncode}):\n{done.stderr[-3000:]}")
    run = json.loads((output / "run.json").read_text())
    scores = {}
    for path in (output / "results").glob("*.json"):
        result = json.loads(path.read_text())
        scores[result["submission"]["file"]] = {q["name"]: q["score"] for q in result["questions"]}
    reports = len(list((output / "reports").glob("*.html"))) + len(list((output / "reports").glob("*.md")))
    return {"seconds": seconds, "memory": memory, "timing": run["timing"], "scores": scores,
            "count": run["submissions"], "reports": reports}


def otter_one(path: Path, zip_path: Path, work: Path) -> tuple[float, int, dict]:
    out = work / path.stem
    out.mkdir(parents=True)
    seconds, memory, done = run_measured([OTTER, "run", "-a", str(zip_path), "-o", str(out), str(path)], cwd=out)
    scores = {}
    if (out / "results.json").is_file():
        for test in json.loads((out / "results.json").read_text()).get("tests", []):
            if "score" in test and test.get("name") != "Public Tests":
                scores[test["name"]] = test["score"]
    return seconds, memory.whole, scores


def otter(sample: list[Path], zip_path: Path, work: Path) -> dict:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        runs = list(pool.map(lambda p: otter_one(p, zip_path, work), sample))
    return {"seconds": time.perf_counter() - started, "count": len(sample),
            "peaks": [r[1] for r in runs], "scores": {p.name: r[2] for p, r in zip(sample, runs, strict=True)},
            "each": [r[0] for r in runs]}


# Printing ------------------------------------------------------------------------------------------

def spread(values: list[float], unit: str, digits: int = 2) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f} {unit}"
    return (f"{statistics.median(values):.{digits}f} {unit} (min {min(values):.{digits}f}, "
            f"max {max(values):.{digits}f}, {len(values)} runs)")


def verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200,
                        help="submissions in the class (default 200, 1 in 5 a notebook)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side, for the spread (default 2)")
    parser.add_argument("--otter-sample", type=int, default=6, help="submissions otter grades each run (default 6)")
    parser.add_argument("--cold", action="store_true",
                        help="grade with `grade --cold` (a new sandbox, and torch imported, for every worker)")
    parser.add_argument("--quick", action="store_true",
                        help="extrapolate 1,000 submissions from the class instead of grading a real batch of 1,000")
    args = parser.parse_args()
    warm = not args.cold
    began = time.perf_counter()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start "
          f"(other work on the machine slows both runners); grading {'warm' if warm else 'cold'}", flush=True)
    with tempfile.TemporaryDirectory(prefix="quant-bench-") as folder:
        work = Path(folder)
        subprocess.run([PYTHON, "-m", "grader", "build", "-o", str(work / "dist"), "--lab", LAB],
                       cwd=ROOT, check=True, capture_output=True)
        zip_path = work / "dist" / "autograder" / f"{LAB}.zip"
        made = build_class(work / "class", args.count)
        n_py, n_nb = len(made["py"]), len(made["ipynb"])
        print(f"class: {args.count} {LAB} submissions ({n_py} .py, {n_nb} .ipynb; right and wrong: "
              f"{len(sources(get_lab(LAB)))} distinct sources), graded as one batch", flush=True)
        sample = (made["py"][: max(1, args.otter_sample - args.otter_sample // 3)]
                  + made["ipynb"][: args.otter_sample // 3])[: args.otter_sample]

        grader_runs, otter_runs = [], []
        for r in range(args.repeat):
            grader_runs.append(grade(work / "class", work / f"out{r}", warm))
            print(f"grader run {r + 1}: {grader_runs[-1]['count']} in {grader_runs[-1]['seconds']:.1f} s", flush=True)
            otter_runs.append(otter(sample, zip_path, work / f"otter{r}"))
            print(f"otter run {r + 1}: {len(sample)} in {otter_runs[-1]['seconds']:.1f} s (two at a time)", flush=True)
        thousand = None
        if not args.quick:
            (work / "thousand").mkdir()
            pool = sources(get_lab(LAB))
            for i in range(1000):
                name, source, _ = pool[i % len(pool)]
                (work / "thousand" / f"s{i:04d}_{name}.py").write_text(source)
            thousand = grade(work / "thousand", work / "out-thousand", warm)
            print(f"1,000 .py in {thousand['seconds']:.1f} s", flush=True)

    # Throughput ------------------------------------------------------------------------------------
    def rate(run: dict) -> float:
        return run["count"] / run["seconds"]

    class_rates = [rate(run) for run in grader_runs]
    otter_rates = [o["count"] / o["seconds"] for o in otter_runs]
    ratios = [g / o for g, o in zip(class_rates, otter_rates, strict=True)]
    print()
    print(f"== Throughput ({LAB}, -j {JOBS} for both; the grader's start-up and imports included) ==")
    rows = [(f"grader grade, the class ({n_py} .py, {n_nb} .ipynb)", spread(class_rates, "submissions/s"))]
    if thousand is not None:
        rows.append(("grader grade, 1,000 .py", f"{rate(thousand):.2f} submissions/s ({thousand['seconds']:.1f} s)"))
    rows += [(f"otter run -a {LAB}.zip, {len(sample)} of the files", spread(otter_rates, "submissions/s", 3)),
             ("  one otter run takes", spread([s for o in otter_runs for s in o["each"]], "s", 1)),
             ("ratio, grader / otter (the class)", spread(ratios, "x", 1))]
    for name, value in rows:
        print(f"{name:<44}{value}")

    # Phases ----------------------------------------------------------------------------------------
    print()
    print("== Time per submission, by phase (grader run.json 'timing'; mean over the class's graded submissions) ==")
    notebooks = {path.stem for path in made["ipynb"]}
    phases = ("load", "judge", "diagnose", "report")
    per: dict[str, dict[str, list[float]]] = {kind: {phase: [] for phase in phases} for kind in (".py", ".ipynb")}
    for run in grader_runs:
        for student, spent in run["timing"]["submissions"].items():
            kind = ".ipynb" if student in notebooks else ".py"
            for phase in phases:
                per[kind][phase].append(spent[phase])
    per_batch = [run["timing"]["start"] for run in grader_runs if run["timing"]["start"] is not None]
    print(f"  start     {statistics.mean(per_batch):7.3f} s once per batch (the grader's start-up: imports, sandbox "
          f"self-test, test parsing), {statistics.mean(per_batch) / args.count:.3f} s per submission of the class")
    notes = {"load": "read the file, fork its worker from a warm sandbox (cold: start a sandbox), run its cells",
             "judge": "run the test cases; the reference's answers are memoised per batch",
             "diagnose": "name a failed question's mistake",
             "report": "render and write its reports and result, on the report thread, off the critical path"}
    print(f"  {'':<9} {'.py':>8} {'.ipynb':>8}")
    for phase in phases:
        print(f"  {phase:<9} {statistics.mean(per['.py'][phase]):7.3f}s "
              f"{statistics.mean(per['.ipynb'][phase]) if per['.ipynb'][phase] else 0.0:7.3f}s  ({notes[phase]})")
    print(f"  (with -j {JOBS}, {JOBS} submissions are in load/judge/diagnose at once: wall time per submission "
          f"is about the sum above divided by {JOBS})")

    # Memory ----------------------------------------------------------------------------------------
    print()
    print("== Peak memory (RSS, polled from /proc every 50 ms; each process tree measured on its own) ==")
    measured = grader_runs + ([thousand] if thousand is not None else [])
    sandboxes = [peak for run in measured for peak in run["memory"].children.values()]
    together = max(run["memory"].together for run in measured)
    grader_own = max(run["memory"].own for run in measured)
    otter_peaks = [p for o in otter_runs for p in o["peaks"]]
    print(f"  one grader sandbox (bwrap + worker):  max {max(sandboxes) / MIB:.0f} MiB, median "
          f"{statistics.median(sandboxes) / MIB:.0f} MiB over {len(sandboxes)} sandboxes (one per batch is the "
          f"self-test's)")
    print(f"  all grader sandboxes together, -j {JOBS}: max {together / MIB:.0f} MiB (a replacement starts before "
          f"the sandbox it replaces retires: up to {JOBS + 1} at once)")
    print(f"  the grader process itself:            max {grader_own / MIB:.0f} MiB")
    print(f"  one otter run (its whole tree):       max {max(otter_peaks) / MIB:.0f} MiB, median "
          f"{statistics.median(otter_peaks) / MIB:.0f} MiB over {len(otter_peaks)} runs")
    print("  (RSS counts shared library pages in every process that maps them: sums are upper bounds)")

    # Agreement -------------------------------------------------------------------------------------
    print()
    print("== Same scores? (question by question, on otter's sample) ==")
    agree = differ = 0
    for o, run in zip(otter_runs, grader_runs, strict=True):
        for file, theirs in o["scores"].items():
            if not theirs:
                print(f"  {file}: otter gave no question scores")
                differ += 1
                continue
            for question, score in theirs.items():
                if run["scores"].get(file, {}).get(question) == score:
                    agree += 1
                else:
                    differ += 1
                    print(f"  {file} {question}: otter {score}, grader {run['scores'].get(file, {}).get(question)}")
    print(f"  {agree} question scores agree, {differ} differ")

    # Targets ---------------------------------------------------------------------------------------
    print()
    print("== Issue 9's targets ==")
    ratio = statistics.median(ratios)
    print(f"  [{verdict(ratio >= TARGETS['ratio'])}] at least {TARGETS['ratio']:g}x otter's throughput: {ratio:.1f}x "
          f"(the class of {args.count}, one batch, start-up included)")
    if thousand is not None:
        py_rate, seconds = rate(thousand), thousand["seconds"]
        py_how = "a real batch of 1,000 .py, start-up included"
        how = f"measured: a real batch of 1,000 .py, {thousand['reports']} reports written"
    else:
        py_runs = [statistics.mean(run["timing"]["submissions"][p.stem]["load"] + run["timing"]["submissions"][p.stem]
                                   ["judge"] + run["timing"]["submissions"][p.stem]["diagnose"] for p in made["py"])
                   for run in grader_runs]
        per_py = statistics.mean(py_runs) / JOBS
        start = statistics.mean(per_batch)
        seconds = start + 1000 * per_py
        py_rate = 1000 / seconds
        py_how = how = (f"EXTRAPOLATED (--quick): {start:.1f} s start + 1,000 x {per_py:.3f} s per .py submission "
                        f"at -j {JOBS}")
    print(f"  [{verdict(py_rate >= TARGETS['py_rate'])}] at least {TARGETS['py_rate']:g} .py submissions/s on {LAB}: "
          f"{py_rate:.2f}/s ({py_how})")
    print(f"  [{verdict(seconds <= TARGETS['thousand_seconds'])}] 1,000 {LAB} submissions with all their reports "
          f"in at most {TARGETS['thousand_seconds']:g} s: {seconds:.0f} s ({how})")
    print(f"  [{verdict(together <= TARGETS['memory'])}] all sandboxes together within "
          f"{TARGETS['memory'] / GIB:g} GiB at -j {JOBS}: {together / MIB:.0f} MiB peak")
    print(f"\nbenchmark took {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
