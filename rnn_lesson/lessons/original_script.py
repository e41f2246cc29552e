"""An exhibit: the lesson's own training code, kept faithfully (not used for the course's results).

Notebook 02 runs it to show what its protocol does to the numbers it reports:
- its data is `torch.randn` with random labels, so there is nothing to learn: chance is 50%;
- its validation set has 30 sequences, so one sequence moves accuracy by 3.3 points;
- it reports the *best* val accuracy over epochs (a maximum over noisy numbers is biased upward)
  next to the *last* epoch's train accuracy, and it keeps the last weights, not the best;
- its train accuracy is measured on the outputs of the training step, with dropout active.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.optim as optim

from ..data import Split


class SimpleRNN(nn.Module):
    """The lesson's model, unchanged."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, dropout: float = 0.3):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, num_layers=2, batch_first=True, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        out = self.dropout(out[:, -1, :])
        return self.fc(out)


def run_lesson_code(seed: int = 0) -> dict[str, float]:
    """The lesson's script with its random data, under one seed (percent, as it prints).

    Returns what it reports (`train_acc`, `best_val_acc`), plus what it does not: the val
    accuracy of the weights it actually ends with, the epoch it stopped at, and the train
    accuracy of those weights in eval mode (dropout off).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        input_size, hidden_size, output_size = 10, 32, 2
        model = SimpleRNN(input_size, hidden_size, output_size, dropout=0.3)
        criterion = nn.CrossEntropyLoss()
        optimizer = optim.Adam(model.parameters(), lr=0.001)
        X_train = torch.randn(100, 5, input_size)
        y_train = torch.randint(0, output_size, (100,))
        X_val = torch.randn(30, 5, input_size)
        y_val = torch.randint(0, output_size, (30,))

        best_val_acc, patience, trigger_times = 0.0, 3, 0
        for epoch in range(30):
            model.train()
            optimizer.zero_grad()
            outputs = model(X_train)
            loss = criterion(outputs, y_train)
            loss.backward()
            optimizer.step()

            model.eval()
            with torch.no_grad():
                val_outputs = model(X_val)
                _, predicted = torch.max(val_outputs, 1)
                val_acc = (predicted == y_val).float().mean().item() * 100

            train_acc = (outputs.argmax(dim=1) == y_train).float().mean().item() * 100

            if val_acc > best_val_acc:
                best_val_acc = val_acc
                trigger_times = 0
            else:
                trigger_times += 1
                if trigger_times >= patience:
                    break
        with torch.no_grad():
            eval_train_acc = (model(X_train).argmax(dim=1) == y_train).float().mean().item() * 100
    return {
        "train_acc": train_acc,  # reported: last epoch, dropout active, before the last step
        "best_val_acc": best_val_acc,  # reported: the maximum over epochs
        "last_val_acc": val_acc,  # not reported: the weights it ends with
        "eval_train_acc": eval_train_acc,  # not reported: train accuracy with dropout off
        "stopped_at_epoch": epoch + 1,
    }


# What its protocol does to the numbers it reports, measured on the course's models.


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
def accuracy_with_dropout_active(model: nn.Module, split: Split, draws: int = 20,
                                 seed: int = 0) -> torch.Tensor:
    """Accuracy in train mode (dropout on), as the lesson measured its train accuracy: one value
    per random dropout mask (`draws` of them). The model's mode and the global RNG are untouched."""
    was_training = model.training
    accuracies = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.train()
        for _ in range(draws):
            predicted = model(split.x, split.lengths).argmax(dim=1)
            accuracies.append((predicted == split.y).float().mean().item())
    model.train(was_training)
    return torch.tensor(accuracies)
