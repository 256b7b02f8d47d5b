"""The course's example tensors (§1-§2 of the grader's docs/course.md). Each call returns a fresh float32 tensor."""

import torch

__all__ = ["T", "W", "N", "L2B_RANDOM", "L3A_RANDOM", "G", "A"]


def T() -> torch.Tensor:
    """The 3x3 tensor used throughout lessons 3 to 7."""
    return torch.tensor([[191.6, -13.5, 728.6], [92.14, 295.5, -184], [0, 684.6, 245.5]])


def W() -> torch.Tensor:
    """The weight matrix of lesson 9 (W8A32) and lesson 10 (W8A16)."""
    return torch.tensor([[-2, -1.13, 0.42], [-1.51, 0.25, 1.62], [0.23, 1.35, 2.15]])


def N() -> torch.Tensor:
    """A negative-only 2x2 tensor: its zero point falls above the int8 range."""
    return -torch.tensor([[250.0, 500.0], [750.0, 1000.0]])


def L2B_RANDOM() -> torch.Tensor:
    """The 4x4 'random' tensor lesson 4 printed (rounded to 4 decimals)."""
    return torch.tensor(
        [
            [0.6797, -1.1712, 0.4454, 1.4545],
            [2.3809, -0.4225, 0.7499, 1.1791],
            [0.9018, 0.0381, -0.6643, 0.0652],
            [1.4342, 0.6813, -1.7233, -0.7490],
        ]
    )


def L3A_RANDOM() -> torch.Tensor:
    """The 4x4 'random' tensor lesson 5 printed (rounded to 4 decimals)."""
    return torch.tensor(
        [
            [0.0382, 0.4675, -0.4316, -0.4538],
            [-1.0497, 0.5059, -1.8473, 1.8416],
            [0.4251, 0.2164, 1.1668, -1.6139],
            [-0.3368, -0.0152, 0.9039, 1.7705],
        ]
    )


def G() -> torch.Tensor:
    """The 6x6 tensor of lesson 8 (per group), seeded: torch.manual_seed(0); torch.rand((6, 6)).

    Made with its own generator, so calling it leaves torch's global random state alone.
    """
    return torch.rand((6, 6), generator=torch.Generator().manual_seed(0))


def A() -> torch.Tensor:
    """A small 2x4 tensor for per-group quantization with group size 2."""
    return torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
