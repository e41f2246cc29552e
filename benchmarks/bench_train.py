"""How fast is one `train()` of the lesson's fix, and what does the library cost over a bare loop?

    python benchmarks/bench_train.py [--repeats 15]

Both sides train the same model on the same data, batches and number of epochs, and evaluate
train and val after every epoch as `train()` does; the script asserts they produce the same
val-loss curve, then prints the median wall times and their ratio. Runs alternate so that
machine noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from rnn_lesson.data import load_course_data
from rnn_lesson.lessons.overfitting import FIX as REGULARIZED
from rnn_lesson.models import build_model
from rnn_lesson.training import train


def bare_loop(epochs: int, seed: int = 0) -> list[float]:
    """The minimal hand-written equivalent of train() for `epochs` epochs (no early stopping)."""
    data, config = load_course_data(), REGULARIZED.train
    torch.manual_seed(seed)
    model = build_model(REGULARIZED.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    order = torch.Generator().manual_seed(seed)
    val_losses = []
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(data.train.y), generator=order).split(config.batch_size):
            loss = F.cross_entropy(model(data.train.x[batch]), data.train.y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for split in (data.train, data.val):
                logits = model(split.x)
                split_loss = F.cross_entropy(logits, split.y).item()
                (logits.argmax(1) == split.y).float().mean().item()
            val_losses.append(split_loss)
    with torch.no_grad():  # train() evaluates the returned model on all three splits
        for split in (data.train, data.val, data.test):
            model(split.x)
    return val_losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)  # train()'s default; the bare loop gets the same
    load_course_data()
    reference = train(REGULARIZED.model, REGULARIZED.train)  # also warms up torch
    epochs = reference.epochs
    # The bare loop never restores weights, so compare it to train() without that bookkeeping.
    assert bare_loop(epochs) == reference.val_loss, "the bare loop is not the same computation"

    library, bare = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        train(REGULARIZED.model, REGULARIZED.train)
        library.append(time.perf_counter() - start)
        start = time.perf_counter()
        bare_loop(epochs)
        bare.append(time.perf_counter() - start)
    lib_s, bare_s = statistics.median(library), statistics.median(bare)
    print(f"regularized config, {epochs} epochs, {args.repeats} alternating repeats, "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"train() full run   median {lib_s:.3f} s  (min {min(library):.3f}, max {max(library):.3f})")
    print(f"bare loop          median {bare_s:.3f} s  (min {min(bare):.3f}, max {max(bare):.3f})")
    print(f"ratio train()/bare {lib_s / bare_s:.3f}   (goal <= 1.10; full run goal <= 0.5 s)")


if __name__ == "__main__":
    main()
