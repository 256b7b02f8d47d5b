"""Write tests/records/behaviour.json: the suite's CHANGE DETECTOR of what students read.

What it is. The record holds what the grader gave every lab's batch (tests/batches.py) and bundled
examples when it was last recorded: scores, statuses, messages, diagnoses, right or wrong. The tests
that read it (tests/grade/test_grade.py::test_change_detector_*, tests/demo/test_demo.py) say "what
students read has changed", never "it is right": what is right is asserted elsewhere, from the course
contract (docs/course.md), the mistake catalogue and hand-written tables (tests/expectations.py).
tests/test_behaviour_record.py fails when the record does not hold every lab of `grader.labs.LABS`.

Rules.
- NEVER re-record in the same commit as a change of behaviour. Commit the change first, with the
  tests that say why it is right (the change detector fails on it, and that failure is the
  reviewer's list of what changed); then re-record in a commit of its own that holds only
  behaviour.json and says why. A commit that changes behaviour and rewrites the detector at once
  has detected nothing.
- Re-record on an idle machine: a question that runs out of time under load is recorded as a timeout.
- A new lab is recorded (with its name on the command line) in its own commit, after the one that adds it.

So this script refuses to run without `--accept "<why>"`, and while the working tree holds any change
but the record itself (the behaviour change must be committed first). From the repository root:

    .venv/bin/python tests/records/record_behaviour.py --accept "why" [LAB ...]

then `git commit -m "Re-record the change detector: why" -- tests/records/behaviour.json`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

import conftest  # noqa: F401 - imported for its effect: puts quantlab, the reference and the mistakes on sys.path
from batches import RECORD, lab_batch, limits_for, what_a_student_reads
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.labs import EXAMPLES, LABS

RECORD_PATH = str(RECORD.relative_to(ROOT))
BANNER = "!" * 100


def refusal(accept: str | None, changed: list[str] | None) -> str | None:
    """Why the record may not be taken now (None: it may). `changed`: the paths `git status` lists
    (None: git cannot tell)."""
    if not accept:
        return ('say why with --accept "<why>": the record is a change detector, re-recorded only to accept '
                "a change of what students read that is already committed")
    if changed is None:
        return "git cannot tell whether the working tree is clean: re-record in a git checkout"
    others = [path for path in changed if path != RECORD_PATH]
    if others:
        return ("the working tree holds changes besides the record (" + ", ".join(others[:5])
                + (", ..." if len(others) > 5 else "") + "): commit the behaviour change first, then "
                "re-record in a commit of its own (never in the same commit as a behaviour change)")
    return None


def changed_paths() -> list[str] | None:
    try:
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return [line[3:].split(" -> ")[-1] for line in status.splitlines() if line.strip()]


def grade(lab: str, folder: Path, limits=None) -> dict:
    options = {"limits": limits} if limits else {}
    with tempfile.TemporaryDirectory() as output:
        results = grade_batch(GradeConfig(lab=lab, submissions=folder, output=Path(output), jobs=2, **options))
    return {r.student: what_a_student_reads(r) for r in results}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accept", metavar="WHY", help="why the change of what students read is meant")
    parser.add_argument("labs", nargs="*", metavar="LAB", help="only these labs (default: every lab)")
    args = parser.parse_args(argv)
    why = refusal(args.accept, changed_paths())
    if why is not None:
        print(f"{BANNER}\nrecord_behaviour.py refuses to re-record the change detector: {why}.\n"
              f"Read its docstring first.\n{BANNER}", file=sys.stderr)
        return 2
    print(f"{BANNER}\nRe-recording the CHANGE DETECTOR (tests/records/behaviour.json): {args.accept}\n"
          f"Commit it alone, saying why; never with a change of behaviour.\n{BANNER}", flush=True)
    record: dict = json.loads(RECORD.read_text(encoding="utf-8")) if args.labs else {"batches": {}, "examples": {}}
    for lab in (LABS[name] for name in args.labs) if args.labs else LABS.values():
        with tempfile.TemporaryDirectory() as folder:
            lab_batch(Path(folder), lab)
            record["batches"][lab.id] = grade(lab.id, Path(folder), limits_for(lab))
        record["examples"][lab.id] = grade(lab.id, EXAMPLES / lab.id)
        print(lab.id, len(record["batches"][lab.id]), len(record["examples"][lab.id]), flush=True)
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f'Now: git commit -m "Re-record the change detector: {args.accept}" -- {RECORD_PATH}')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
