"""`grader demo`: build everything, grade the bundled example submissions, say where to look."""

from __future__ import annotations

from grader import build, grade
from grader.config import BuildConfig, DemoConfig, GradeConfig
from grader.labs import EXAMPLES, LABS
from grader.results import SubmissionResult
from grader.sandbox import choose

__all__ = ["main"]


def main(config: DemoConfig) -> int:
    isolation = choose()  # the demo grades in the real sandbox, or not at all (SandboxUnavailable)
    dist = config.output / "dist"
    build.build(BuildConfig(output=dist))
    print(f"Hand-outs and autograder zips: {dist}")
    every: list[SubmissionResult] = []
    for lab_id in LABS:
        examples = EXAMPLES / lab_id
        if not examples.is_dir():
            continue
        output = config.output / lab_id
        results = grade.grade_batch(GradeConfig(lab=lab_id, submissions=examples, output=output, jobs=config.jobs),
                                    isolation)
        print(f"\n{lab_id}: graded {len(results)} example submission(s)")
        for result in sorted(results, key=lambda r: r.student):
            print(f"  {result.student:<10} {result.score_shown:>5} / {result.max_score:g}  {result.status}")
        print(f"  reports: {output / 'reports'}   summary: {output / 'summary.html'}")
        every += results
    return grade.report_internal_errors(every)
