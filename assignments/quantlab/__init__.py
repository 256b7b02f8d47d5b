"""Support code shared by every lab of "Quantization in Depth".

- `quantlab.fixtures`: the course's example tensors (fresh copies on every call);
- `quantlab.plotting`: `plot_quantization_errors`, the course's picture of a quantization;
- `quantlab.checks`: the comparisons that `grader.check(...)` runs, with their messages.

Nothing here holds an answer: it is the same code the autograder uses to compare, minus the
hidden reference.
"""
