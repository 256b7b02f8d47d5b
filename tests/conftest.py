import sys
from pathlib import Path

import torch

from grader.labs import make_tests_importable

# Tests import the support package (quantlab), the reference and the mistakes (solutions/) as the
# grader does, and the submissions module beside this file.
make_tests_importable()
sys.path.insert(0, str(Path(__file__).resolve().parent))

# pytest-xdist runs one process per core; torch's own thread pool on top of that oversubscribes
# the machine and makes numeric tests tens of times slower.
torch.set_num_threads(1)
