import torch

# pytest-xdist runs one process per core; torch's own thread pool on top of that oversubscribes
# the machine and makes numeric tests tens of times slower.
torch.set_num_threads(1)
