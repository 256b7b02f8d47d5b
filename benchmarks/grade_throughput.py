"""Grading throughput and memory: `grader grade` against `otter run` with the same zip, side by side.

    .venv/bin/python benchmarks/grade_throughput.py [--lab L2-A] [--count 8]

Both grade the same submissions (correct and wrong .py files) with the same tests; otter's runner
is the baseline. Printed: seconds per submission, the ratio to the baseline, and the peak RSS of
the largest child process (the worker, or otter's kernel). Absolute times vary by machine; the
ratios are the figures to quote.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import mistakes  # noqa: E402 - it lives in tests/, put on sys.path just above

PYTHON = sys.executable
OTTER = str(Path(sys.executable).with_name("otter"))


def submissions(folder: Path, count: int) -> list[Path]:
    sources = [mistakes.COURSE_LITERAL] + [mistakes.mistake_source(m)
                                           for m in ("missing_clamp", "round_floor", "dequant_sign")]
    paths = []
    for i in range(count):
        path = folder / f"student{i:03d}.py"
        path.write_text(sources[i % len(sources)])
        paths.append(path)
    return paths


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def peak_child_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="L2-A")
    parser.add_argument("--count", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        subs = work / "subs"
        subs.mkdir()
        paths = submissions(subs, args.count)
        subprocess.run([PYTHON, "-m", "grader", "build", "-o", str(work / "dist"), "--lab", args.lab], check=True,
                       capture_output=True)
        zip_path = work / "dist" / "autograder" / f"{args.lab}.zip"

        baseline = 0.0
        for path in paths:
            out = work / "otter" / path.stem
            out.mkdir(parents=True)
            baseline += timed([OTTER, "run", "-a", str(zip_path), "-o", str(out), str(path)], cwd=out)
        otter_rss = peak_child_rss_mib()

        rows = [("otter run (baseline, one at a time)", baseline)]
        for jobs in (1, 2):
            seconds = timed([PYTHON, "-m", "grader", "grade", args.lab, str(subs), "-o", str(work / f"out{jobs}"),
                             "-j", str(jobs)], cwd=work)
            rows.append((f"grader grade -j {jobs}", seconds))
        grader_rss = peak_child_rss_mib()

    print(f"{args.count} submissions of {args.lab}")
    print(f"{'runner':<40}{'s/submission':>14}{'vs baseline':>14}")
    for name, seconds in rows:
        print(f"{name:<40}{seconds / args.count:>14.2f}{seconds / baseline:>13.2f}x")
    print(f"peak RSS of a child process: {otter_rss:.0f} MiB up to the otter runs, "
          f"{grader_rss:.0f} MiB up to the grader runs")


if __name__ == "__main__":
    main()
