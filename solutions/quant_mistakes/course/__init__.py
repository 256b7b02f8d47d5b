"""Course-literal code: the course notebooks' functions with the project decisions of docs/course.md §3.

One module per topic, each with `CODE`, the notebook source of its functions (imports included);
`catalogue.course_literal()` joins every module's `CODE` into one notebook. A mistake is that
notebook with some functions replaced, so a wrong helper also makes the functions that call it
wrong, as it would in a student's notebook. Templates that mistakes change one part of live
beside the code they build (`layers`, `whole_model`).
"""

import textwrap


def dedent(text: str) -> str:
    """Notebook source from an indented triple-quoted block: dedented, one newline at the end."""
    return textwrap.dedent(text).strip("\n") + "\n"
