"""The course's picture of a quantization: original, quantized, dequantized and error, side by side."""

from __future__ import annotations

import torch


def heatmap(ax, values: torch.Tensor, title: str, cmap: str, vmin=None, vmax=None, fmt: str = ".2f"):
    """One panel of the course's picture on `ax` (small tensors get their values written in the cells)."""
    data = values.detach().double().reshape(values.shape[0] if values.dim() > 1 else 1, -1)
    image = ax.imshow(data.numpy(), cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if data.numel() <= 64:
        for (row, col), value in _cells(data):
            ax.text(col, row, format(value, fmt), ha="center", va="center", fontsize=8)
    return image


def _cells(data: torch.Tensor):
    for row in range(data.shape[0]):
        for col in range(data.shape[1]):
            yield (row, col), data[row, col].item()


def plot_quantization_errors(original_tensor, quantized_tensor, dequantized_tensor, dtype=torch.int8, n_bits=8):
    """Draw four heatmaps: original, quantized codes, dequantized values and absolute error.

    Returns the matplotlib Figure (a notebook displays it on its own).
    """
    import matplotlib.pyplot as plt

    info = torch.iinfo(dtype)
    figure, axes = plt.subplots(1, 4, figsize=(15, 4))
    heatmap(axes[0], original_tensor, "Original Tensor", "coolwarm")
    heatmap(axes[1], quantized_tensor, f"{n_bits}-bit Linear Quantized Tensor", "coolwarm",
            vmin=info.min, vmax=info.max, fmt=".0f")
    heatmap(axes[2], dequantized_tensor, "Dequantized Tensor", "coolwarm")
    error = (dequantized_tensor.detach().double() - original_tensor.detach().double()).abs()
    heatmap(axes[3], error, "Quantization Error Tensor", "Reds")
    figure.tight_layout()
    return figure
