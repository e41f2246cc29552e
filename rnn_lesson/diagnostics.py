"""Measurements behind notebook 02's section on the lesson's protocol."""

from __future__ import annotations

import torch
from torch import nn

from .data import Split


@torch.no_grad()
def accuracy_on_subsets(model: nn.Module, split: Split, size: int = 30, draws: int = 500,
                        seed: int = 0) -> torch.Tensor:
    """Accuracy of one trained model on `draws` random subsets of `size` sequences of `split`.

    The spread is what a validation set of that size adds to every number it reports.
    """
    model.eval()
    correct = (model(split.x, split.lengths).argmax(dim=1) == split.y).float()
    gen = torch.Generator().manual_seed(seed)
    picks = torch.stack([torch.randperm(len(split), generator=gen)[:size] for _ in range(draws)])
    return correct[picks].mean(dim=1)


@torch.no_grad()
def accuracy_with_dropout_active(model: nn.Module, split: Split, seed: int = 0) -> float:
    """Accuracy in train mode (dropout on), as the lesson measured its train accuracy."""
    was_training = model.training
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.train()
        accuracy = (model(split.x, split.lengths).argmax(dim=1) == split.y).float().mean().item()
    model.train(was_training)
    return accuracy
