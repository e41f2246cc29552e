"""Command line: `python -m rnn_lesson reproduce | ablation | train | map ...` (see --help)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from .lessons import overfitting as lesson
from .models import CELLS
from .results import table
from .training import History, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnn_lesson", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    rep = commands.add_parser("reproduce", help="train the baseline and the fix on seeds 0..N-1")
    rep.add_argument("--seeds", type=_positive_int, default=10, help="number of seeds (default 10)")
    rep.add_argument("--json", type=Path, help="write the per-seed metrics to this file")
    _add_run_options(rep)

    one = commands.add_parser("train", help="train one configuration and print its progress")
    one.add_argument("--preset", choices=sorted(lesson.EXPERIMENTS), default=lesson.FIX.name,
                     help="start from this configuration (default: fix)")
    one.add_argument("--cell", choices=sorted(CELLS))
    one.add_argument("--hidden", type=int, help="hidden size")
    one.add_argument("--layers", type=int, help="number of stacked recurrent layers")
    one.add_argument("--dropout", type=float, help="dropout inside the stack and after it, in [0, 1)")
    one.add_argument("--lr", type=float, help="Adam learning rate")
    one.add_argument("--batch-size", type=int)
    one.add_argument("--epochs", type=int, help="maximum number of epochs")
    one.add_argument("--weight-decay", type=float)
    one.add_argument("--grad-clip", type=float, help="max gradient norm")
    one.add_argument("--early-stopping", action=argparse.BooleanOptionalAction, default=None)
    one.add_argument("--patience", type=int)
    one.add_argument("--seed", type=int, default=0)
    one.add_argument("--plot", type=Path, help="save the learning curves to this PNG")

    abl = commands.add_parser("ablation", help="each of the lesson's four changes, one at a time, "
                              "on seeds 0..N-1 (cached)")
    abl.add_argument("--seeds", type=_positive_int, default=20, help="number of seeds (default 20)")
    abl.add_argument("--json", type=Path, help="write the per-seed metrics to this file")
    _add_run_options(abl)

    grid = commands.add_parser("map", aliases=["sweep"],
                               help="train the dropout x hidden-size map (cached)")
    grid.add_argument("--json", type=Path, help="write the per-cell mean/min/max to this file")
    grid.add_argument("--plot", type=Path, help="save the two heatmaps to this PNG")
    _add_run_options(grid)

    args = parser.parse_args(argv)
    commands_run = {"reproduce": _reproduce, "train": _train, "map": _map, "sweep": _map,
                    "ablation": _ablation}
    try:
        for path in (getattr(args, "json", None), getattr(args, "plot", None)):
            _check_output(path)  # before any training: a bad path must not waste the runs
        return commands_run[args.command](args)
    except ValueError as error:  # bad hyperparameters or paths: one clear line, not a traceback
        parser.exit(2, f"error: {error}\n")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=_positive_int, default=2, help="processes (default 2)")
    parser.add_argument("--no-cache", action="store_true", help="retrain every run")


def _check_output(path: Path | None) -> None:
    if path is None:
        return
    if path.is_dir():
        raise ValueError(f"{path} is a folder: give a file name, for example {path / 'out.json'}")
    if not path.parent.is_dir():
        raise ValueError(f"the folder {path.parent} does not exist: create it or choose another path")


def _train(args: argparse.Namespace) -> int:
    preset = lesson.EXPERIMENTS[args.preset]
    model_config = _override(preset.model, cell=args.cell, hidden_size=args.hidden,
                             num_layers=args.layers, dropout=args.dropout)
    train_config = _override(preset.train, lr=args.lr, batch_size=args.batch_size,
                             max_epochs=args.epochs, weight_decay=args.weight_decay,
                             grad_clip=args.grad_clip, early_stopping=args.early_stopping,
                             patience=args.patience, seed=args.seed)
    print(f"model: {model_config}\ntraining: {train_config}")

    def report(history: History) -> None:
        e = history.epochs - 1
        print(f"epoch {e + 1:3d}  train loss {history.train_loss[e]:.3f} acc {history.train_acc[e]:6.1%}"
              f"  |  val loss {history.val_loss[e]:.3f} acc {history.val_acc[e]:6.1%}", flush=True)

    history = train(model_config, train_config, on_epoch_end=report)
    print(f"{history.stop_reason}; "
          + history.kept)
    print(history.summary())
    print(lesson.check_task(history))
    if args.plot:
        lesson.plot_run(history).savefig(args.plot, dpi=100)
        print(f"learning curves saved to {args.plot}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    seeds = range(args.seeds)
    bar = _ProgressBar()
    groups = lesson.reproduce(seeds, workers=args.workers, cache=not args.no_cache,
                              progress=bar.update)
    print("\n")
    print(table(list(groups.values()), ("train_acc", "val_acc", "test_acc", "train_loss",
                                        "val_loss", "test_loss", "epochs", "seconds")))
    print()
    broken = lesson.claims(groups)
    for name, group in groups.items():
        failing = {line.split(":")[0] for line in broken if line.startswith(f"{name} seed ")}
        print(f"{name}: {lesson.claim_texts(name)}: on {len(group.runs) - len(failing)}/"
              f"{len(group.runs)} seeds")
    for line in broken:
        print(f"  {line}")
    if args.json:
        per_seed = {name: [run.to_dict() for run in group.runs] for name, group in groups.items()}
        args.json.write_text(json.dumps(per_seed, indent=1))
        print(f"per-seed records written to {args.json}")
    return 0 if not broken else 1


def _ablation(args: argparse.Namespace) -> int:
    bar = _ProgressBar()
    groups = lesson.run_ablation(range(args.seeds), workers=args.workers,
                                 cache=not args.no_cache, progress=bar.update)
    print("\n")
    print(table(list(groups.values()), ("train_acc", "val_acc", "test_acc", "val_loss", "epochs")))
    print(f"\n{'variant':16s}{'task passed':>14s}   what it is")
    for name, group in groups.items():
        passed = sum(lesson.check_task(run).passed for run in group.runs)
        print(f"{name:16s}{f'{passed}/{len(group.runs)} seeds':>14s}   "
              f"{lesson.ABLATION[name].description}")
    broken = lesson.ablation_claims(groups)
    print(f"\nclaims: {'all hold' if not broken else f'{len(broken)} broken'}")
    for line in broken:
        print(f"  {line}")
    if args.json:
        args.json.write_text(json.dumps(lesson.ablation_json(groups), indent=1))
        print(f"per-seed metrics written to {args.json}")
    return 0 if not broken else 1


def _map(args: argparse.Namespace) -> int:
    config = lesson.MapConfig()
    bar = _ProgressBar()
    start = time.perf_counter()
    result = lesson.run_map(config, workers=args.workers, cache=not args.no_cache,
                            progress=bar.update)
    print(f"\n{len(config.seeds) * len(result.cells)} runs in {time.perf_counter() - start:.1f} s")
    for metric, title in (("val_acc", "val accuracy"), ("gap", "train - val accuracy")):
        print(f"\n{title}, mean over seeds {list(config.seeds)} (rows: dropout, columns: hidden size)")
        print("dropout " + "".join(f"{h:>8d}" for h in config.hidden_sizes))
        for dropout, row in zip(config.dropouts, result.grid(metric)):
            print(f"{dropout:7.1f} " + "".join(f"{100 * v:7.1f}%" for v in row))
    inside = [key for key in result.cells if result.passes(*key)]
    print(f"\ntask passed (mean over seeds) in {len(inside)} of {len(result.cells)} cells")
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=2))
        print(f"per-cell metrics written to {args.json}")
    if args.plot:
        lesson.map_figure(result).savefig(args.plot, dpi=100)
        print(f"heatmaps saved to {args.plot}")
    return 0


class _ProgressBar:
    """A one-line text progress bar for the terminal."""

    def __init__(self, width: int = 40) -> None:
        self.width, self.start = width, time.perf_counter()

    def update(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        print(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} runs, "
              f"{time.perf_counter() - self.start:.0f} s", end="", flush=True)


def _override(config, **changes):
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
