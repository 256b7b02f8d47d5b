"""Two small models built in code, standing in for the Hugging Face models of lessons 12 and 13.

The course quantizes `Salesforce/codegen-350M-mono`, `facebook/detr-resnet-50` and
`facebook/opt-125m`, downloaded from the Hub. These labs download nothing: the models below have
the same layout where it matters (the names and nesting of their `nn.Linear` layers, their
dtypes, their buffers) but are small enough to quantize, save and reload in well under a second
on a CPU. Their weights are random, drawn from a seed by `decoder(...)` and `detector(...)`, so every run
builds the same model.

- `TinyCodeGenForCausalLM` (`decoder(...)`): a decoder-only language model like CodeGen: token and
  position embeddings, blocks whose attention has `qkv_proj` and `out_proj` and whose MLP has
  `fc_in` and `fc_out`, a final LayerNorm and an untied `lm_head`. It has `generate(...)` for
  greedy decoding, and `TinyTokenizer` turns text into token ids and back.
- `TinyDetrForObjectDetection` (`detector(...)`): an object detector like DETR: a convolutional
  backbone with frozen batch norms (whose statistics are buffers, not parameters), an encoder
  and a decoder whose layers have `q_proj`, `k_proj`, `v_proj`, `out_proj`, `fc1`, `fc2`, a
  `class_labels_classifier` and a `bbox_predictor` whose three Linear layers are named `0`, `1`, `2`.

Both classes can also be built without any weights, under `with torch.device("meta"):`, as
lesson 13 does before it loads a saved state dict.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "CodeGenConfig",
    "TinyCodeGenForCausalLM",
    "TinyTokenizer",
    "decoder",
    "DetrConfig",
    "TinyDetrForObjectDetection",
    "DetectionOutput",
    "detector",
    "sample_images",
]


def _seeded(build, seed: int, dtype: torch.dtype) -> nn.Module:
    """`build()`, every weight then drawn from a local generator seeded with `seed`, cast to `dtype`.

    torch's global generator is never seeded: the grader builds models in several threads at
    once, and a shared generator would hand each thread a different share of its numbers.
    """
    model = build()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            _initialise(module, generator)
        model.initialise(generator)
    return model.to(dtype).eval()


def _initialise(module: nn.Module, generator: torch.Generator) -> None:
    """torch's default initialisation of Linear, Conv2d and Embedding layers, from `generator`."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        bound = 1 / module.weight[0].numel() ** 0.5
        module.weight.uniform_(-bound, bound, generator=generator)
        if module.bias is not None:
            module.bias.uniform_(-bound, bound, generator=generator)
    elif isinstance(module, nn.Embedding):
        module.weight.normal_(0.0, 1.0, generator=generator)


# The decoder (lesson 12: CodeGen; lesson 13: OPT) --------------------------------------------------

#: What the tiny decoder continues any prompt with, one character per position (the course's
#: CodeGen completes "def hello_world():" much like this).
MEMORISED_TEXT = 'def hello_world():\n    print("Hello World")\n\nhello_world()\n'

@dataclass(frozen=True)
class CodeGenConfig:
    vocab_size: int = 96
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    max_positions: int = 64
    #: CodeGen's attention projections have no bias; these labs give them one unless told otherwise.
    attention_bias: bool = True
    #: How strongly the model has "memorised" `MEMORISED_TEXT` (the weight of its position-to-next-character map).
    memory_strength: float = 0.5


class CodeGenAttention(nn.Module):
    """Causal self-attention with one fused `qkv_proj` and an `out_proj`, as in CodeGen."""

    def __init__(self, config: CodeGenConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.qkv_proj = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=config.attention_bias)
        self.out_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=config.attention_bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        batch, length, width = hidden.shape
        heads = self.qkv_proj(hidden).view(batch, length, 3, self.num_heads, width // self.num_heads)
        query, key, value = heads.permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(query, key, value, is_causal=True)
        return self.out_proj(attended.transpose(1, 2).reshape(batch, length, width))


class CodeGenMLP(nn.Module):
    def __init__(self, config: CodeGenConfig):
        super().__init__()
        self.fc_in = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc_out = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.fc_out(F.gelu(self.fc_in(hidden), approximate="tanh"))


class CodeGenBlock(nn.Module):
    """CodeGen's block: attention and MLP read the same normalised input, in parallel."""

    def __init__(self, config: CodeGenConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.hidden_size)
        self.attn = CodeGenAttention(config)
        self.mlp = CodeGenMLP(config)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        normed = self.ln_1(hidden)
        return hidden + self.attn(normed) + self.mlp(normed)


class CodeGenModel(nn.Module):
    def __init__(self, config: CodeGenConfig):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.hidden_size)
        self.wpe = nn.Embedding(config.max_positions, config.hidden_size)
        self.h = nn.ModuleList(CodeGenBlock(config) for _ in range(config.num_layers))
        self.ln_f = nn.LayerNorm(config.hidden_size)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[-1], device=input_ids.device)
        hidden = self.wte(input_ids) + self.wpe(positions)
        for block in self.h:
            hidden = block(hidden)
        return self.ln_f(hidden)


class TinyCodeGenForCausalLM(nn.Module):
    """A decoder-only language model: `model(input_ids)` gives logits of shape (batch, length, vocab)."""

    def __init__(self, config: CodeGenConfig | None = None):
        super().__init__()
        self.config = config or CodeGenConfig()
        self.transformer = CodeGenModel(self.config)
        # Not tied to the token embedding: it is a Linear of its own, excluded from quantization.
        self.lm_head = nn.Linear(self.config.hidden_size, self.config.vocab_size, bias=False)

    @torch.no_grad()
    def initialise(self, generator: torch.Generator, text: str = MEMORISED_TEXT) -> None:
        """Point `lm_head` from each position's embedding to the next character of `text`.

        A random model's next-token scores are nearly tied, so greedy decoding would flip under
        the smallest change. This one has clear winners: from any prompt, the character at
        position p + 1 of `text` follows position p, so the demo prints a recognisable program
        before and after quantization.
        """
        ids = TinyTokenizer().encode(text)[0] % self.config.vocab_size
        positions = self.transformer.wpe.weight
        # Orthogonal position embeddings (as far as the width allows) keep positions apart.
        rows, width = positions.shape
        square = torch.randn(max(rows, width), max(rows, width), generator=generator)
        orthogonal, _ = torch.linalg.qr(square)
        positions.copy_(orthogonal[:rows, :width] * width ** 0.5)
        self.transformer.wte.weight.mul_(0.5)
        length = min(len(ids) - 1, positions.shape[0])
        targets = torch.zeros_like(self.lm_head.weight)
        targets.index_add_(0, ids[1:length + 1], positions[:length])
        self.lm_head.weight.mul_(0.1).add_(targets, alpha=self.config.memory_strength)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.transformer(input_ids))

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, max_new_tokens: int = 20) -> torch.Tensor:
        """Greedy decoding (the course's `do_sample=False`): the prompt followed by the new tokens."""
        tokens = input_ids
        for _ in range(max_new_tokens):
            window = tokens[:, -self.config.max_positions:]
            next_token = self(window)[:, -1, :].argmax(dim=-1, keepdim=True)
            tokens = torch.cat([tokens, next_token], dim=-1)
        return tokens


class TinyTokenizer:
    """One token per character: a newline and the 95 printable ASCII characters (ids 0 to 95)."""

    alphabet = "\n" + "".join(chr(c) for c in range(32, 127))

    def __init__(self):
        self._ids = {char: i for i, char in enumerate(self.alphabet)}

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet)

    def encode(self, text: str) -> torch.Tensor:
        """A (1, len(text)) tensor of token ids; characters outside the alphabet become '?'."""
        return torch.tensor([[self._ids.get(char, self._ids["?"]) for char in text]])

    def decode(self, ids: torch.Tensor) -> str:
        return "".join(self.alphabet[int(i)] for i in torch.as_tensor(ids).reshape(-1))


def decoder(seed: int = 0, dtype: torch.dtype = torch.float32, **config) -> TinyCodeGenForCausalLM:
    """A seeded `TinyCodeGenForCausalLM` in `dtype` (lesson 12 loads CodeGen in torch.bfloat16)."""
    settings = CodeGenConfig(**config)
    return _seeded(lambda: TinyCodeGenForCausalLM(settings), seed, dtype)


# The detector (lesson 12: DETR) --------------------------------------------------------------------

@dataclass(frozen=True)
class DetrConfig:
    num_channels: int = 3
    image_size: int = 16
    backbone_channels: tuple = (8, 16)
    hidden_size: int = 32
    num_heads: int = 4
    ffn_size: int = 64
    num_queries: int = 6
    num_labels: int = 5
    encoder_layers: int = 1
    decoder_layers: int = 1


class FrozenBatchNorm2d(nn.Module):
    """DETR's batch norm with fixed statistics: its weight and bias are buffers, not parameters."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * (self.running_var + 1e-5).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def _backbone(config: DetrConfig) -> nn.Sequential:
    layers = OrderedDict()
    channels = config.num_channels
    for i, width in enumerate(config.backbone_channels, start=1):
        layers[f"conv{i}"] = nn.Conv2d(channels, width, kernel_size=3, stride=2, padding=1, bias=False)
        layers[f"bn{i}"] = FrozenBatchNorm2d(width)
        layers[f"act{i}"] = nn.ReLU()
        channels = width
    return nn.Sequential(layers)


class DetrAttention(nn.Module):
    def __init__(self, config: DetrConfig):
        super().__init__()
        width = config.hidden_size
        self.num_heads = config.num_heads
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.q_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        return x.view(batch, length, self.num_heads, width // self.num_heads).transpose(1, 2)

    def forward(self, queries: torch.Tensor, keys_values: torch.Tensor) -> torch.Tensor:
        attended = F.scaled_dot_product_attention(
            self._heads(self.q_proj(queries)), self._heads(self.k_proj(keys_values)),
            self._heads(self.v_proj(keys_values)),
        )
        return self.out_proj(attended.transpose(1, 2).reshape(queries.shape))


class DetrEncoderLayer(nn.Module):
    def __init__(self, config: DetrConfig):
        super().__init__()
        self.self_attn = DetrAttention(config)
        self.self_attn_layer_norm = nn.LayerNorm(config.hidden_size)
        self.fc1 = nn.Linear(config.hidden_size, config.ffn_size)
        self.fc2 = nn.Linear(config.ffn_size, config.hidden_size)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = self.self_attn_layer_norm(hidden + self.self_attn(hidden, hidden))
        return self.final_layer_norm(hidden + self.fc2(F.relu(self.fc1(hidden))))


class DetrDecoderLayer(nn.Module):
    def __init__(self, config: DetrConfig):
        super().__init__()
        self.self_attn = DetrAttention(config)
        self.self_attn_layer_norm = nn.LayerNorm(config.hidden_size)
        self.encoder_attn = DetrAttention(config)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.hidden_size)
        self.fc1 = nn.Linear(config.hidden_size, config.ffn_size)
        self.fc2 = nn.Linear(config.ffn_size, config.hidden_size)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size)

    def forward(self, hidden: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        hidden = self.self_attn_layer_norm(hidden + self.self_attn(hidden, hidden))
        hidden = self.encoder_attn_layer_norm(hidden + self.encoder_attn(hidden, memory))
        return self.final_layer_norm(hidden + self.fc2(F.relu(self.fc1(hidden))))


class DetrEncoder(nn.Module):
    def __init__(self, config: DetrConfig):
        super().__init__()
        self.layers = nn.ModuleList(DetrEncoderLayer(config) for _ in range(config.encoder_layers))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            hidden = layer(hidden)
        return hidden


class DetrDecoder(nn.Module):
    def __init__(self, config: DetrConfig):
        super().__init__()
        self.layers = nn.ModuleList(DetrDecoderLayer(config) for _ in range(config.decoder_layers))
        self.layernorm = nn.LayerNorm(config.hidden_size)

    def forward(self, hidden: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            hidden = layer(hidden, memory)
        return self.layernorm(hidden)


class DetrModel(nn.Module):
    def __init__(self, config: DetrConfig):
        super().__init__()
        self.backbone = _backbone(config)
        self.input_projection = nn.Conv2d(config.backbone_channels[-1], config.hidden_size, kernel_size=1)
        side = config.image_size // 2 ** len(config.backbone_channels)
        self.row_embeddings = nn.Embedding(side, config.hidden_size)
        self.column_embeddings = nn.Embedding(side, config.hidden_size)
        self.query_position_embeddings = nn.Embedding(config.num_queries, config.hidden_size)
        self.encoder = DetrEncoder(config)
        self.decoder = DetrDecoder(config)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        features = self.input_projection(self.backbone(pixel_values))
        batch, width, rows, columns = features.shape
        positions = self.row_embeddings.weight[:rows, None, :] + self.column_embeddings.weight[None, :columns, :]
        tokens = features.flatten(2).transpose(1, 2) + positions.reshape(1, rows * columns, width)
        memory = self.encoder(tokens)
        queries = self.query_position_embeddings.weight.unsqueeze(0).expand(batch, -1, -1)
        return self.decoder(queries, memory)


class DetrMLPPredictionHead(nn.Module):
    """DETR's box head: Linear layers in a ModuleList, so their names are `0`, `1`, `2`."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        widths = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(
            nn.Linear(n, k) for n, k in zip([input_dim] + widths, widths + [output_dim], strict=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < len(self.layers) - 1 else layer(x)
        return x


class DetectionOutput(NamedTuple):
    logits: torch.Tensor  # (batch, num_queries, num_labels + 1): the last class is "no object"
    pred_boxes: torch.Tensor  # (batch, num_queries, 4): centre x, centre y, width, height in [0, 1]


class TinyDetrForObjectDetection(nn.Module):
    """`model(pixel_values)` with images (batch, 3, 16, 16) gives a `DetectionOutput`."""

    def __init__(self, config: DetrConfig | None = None):
        super().__init__()
        self.config = config or DetrConfig()
        self.model = DetrModel(self.config)
        self.class_labels_classifier = nn.Linear(self.config.hidden_size, self.config.num_labels + 1)
        self.bbox_predictor = DetrMLPPredictionHead(self.config.hidden_size, self.config.hidden_size, 4, num_layers=3)

    @torch.no_grad()
    def initialise(self, generator: torch.Generator) -> None:
        """Frozen statistics as a trained backbone would have them (not 0 and 1)."""
        for module in self.modules():
            if isinstance(module, FrozenBatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.1, generator=generator)
                module.running_mean.normal_(0.0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)

    def forward(self, pixel_values: torch.Tensor) -> DetectionOutput:
        hidden = self.model(pixel_values)
        return DetectionOutput(self.class_labels_classifier(hidden), self.bbox_predictor(hidden).sigmoid())


def detector(seed: int = 0, dtype: torch.dtype = torch.float32, **config) -> TinyDetrForObjectDetection:
    """A seeded `TinyDetrForObjectDetection` in `dtype` (lesson 12 loads DETR in float32)."""
    settings = DetrConfig(**config)
    return _seeded(lambda: TinyDetrForObjectDetection(settings), seed, dtype)


def sample_images(batch: int = 2, seed: int = 0, config: DetrConfig | None = None,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Seeded random 'images' of shape (batch, 3, 16, 16), standing in for the course's photo."""
    config = config or DetrConfig()
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, config.num_channels, config.image_size, config.image_size)
    return torch.rand(shape, generator=generator).to(dtype)
