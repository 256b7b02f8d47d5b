"""Small models for lesson 11 (replacing layers), built in code with a fixed seed.

They are the models of §2 L4-B and §5 of the course contract (docs/course.md in the grader's
repository).

Every builder takes a `seed` and gives the same weights for the same seed, whatever torch's global
random state is: the weights come from a local `torch.Generator`, never from `torch.manual_seed`.

- `DummyModel`: the course's model (embedding, `linear_1` with bias, `linear_2` and `lm_head`
  without);
- `nested_model`: a Linear inside a Sequential inside a Sequential (`2.0`), for recursion;
- `eleven_linears`: 11 Linears named `0` to `10` in one Sequential, for exclusion by name;
- `non_square_model`: Linears with in_features != out_features, for the constructor's argument order;
- `deep_model`: a decoder-like model with Linears named alike at several depths (`lm_head` at the
  top and inside a block, `0` in two places), for exclusion by the immediate child name.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DummyModel", "nested_model", "eleven_linears", "non_square_model", "deep_model", "BUILDERS", "build"]


def _fill(model: nn.Module, seed: int) -> nn.Module:
    """Overwrite every parameter with seeded values, in a fixed order, so the model is reproducible."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, parameter in sorted(model.named_parameters(), key=lambda item: item[0]):
            values = torch.randn(parameter.shape, generator=generator, dtype=torch.float32)
            parameter.copy_(values / max(parameter.shape[-1], 1) ** 0.5)
    return model


class DummyModel(nn.Module):
    """The course's model of lesson 11."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(1, 1)
        # With a bias
        self.linear_1 = nn.Linear(1, 1)
        # Without a bias
        self.linear_2 = nn.Linear(1, 1, bias=False)
        # The language-model head, which is usually excluded
        self.lm_head = nn.Linear(1, 1, bias=False)


class _Block(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.qkv_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(3 * width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width, bias=False))
        self.lm_head = nn.Linear(width, width)  # named like the top-level head, one level down

    def forward(self, x):
        x = x + self.out_proj(self.qkv_proj(x))
        return x + self.mlp(x) + self.lm_head(x)


class _DeepModel(nn.Module):
    def __init__(self, width: int = 8, blocks: int = 2):
        super().__init__()
        self.blocks = nn.ModuleList(_Block(width) for _ in range(blocks))
        self.head = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 4))
        self.lm_head = nn.Linear(width, 4, bias=False)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x) + self.lm_head(x)


def dummy_model(seed: int = 0) -> DummyModel:
    return _fill(DummyModel(), seed)


def nested_model(seed: int = 0) -> nn.Sequential:
    """`Sequential(Linear(4,4), ReLU(), Sequential(Linear(4,2)))` (docs/course.md §5, replace_no_recursion)."""
    return _fill(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2))), seed)


def eleven_linears(seed: int = 0) -> nn.Sequential:
    """Eleven `Linear(4,4)` named `0` to `10` (docs/course.md §5, exclude_by_substring_or_path)."""
    return _fill(nn.Sequential(*(nn.Linear(4, 4) for _ in range(11))), seed)


def non_square_model(seed: int = 0) -> nn.Sequential:
    """Linears 16 -> 8 -> 24 (with, without, with bias) (docs/course.md §5, replace_wrong_arg_order)."""
    return _fill(nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 24, bias=False), nn.Linear(24, 5)), seed)


def deep_model(seed: int = 0) -> _DeepModel:
    return _fill(_DeepModel(), seed)


#: Builders by name: the inspections receive a name, never a model, so models cross no process boundary.
BUILDERS = {
    "dummy": dummy_model,
    "nested": nested_model,
    "eleven": eleven_linears,
    "non_square": non_square_model,
    "deep": deep_model,
}


def build(name: str, seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Module:
    """The model `name`, its weights seeded with `seed`, converted to `dtype`."""
    return BUILDERS[name](seed).to(dtype)
