"""Command line: `python -m rnn_lesson reproduce | ablation | train | map | grade ...` (see --help).

Every output path is checked before any training (a probe file is created and removed in its
folder; a missing folder is created, except for grade's --csv, which must go to a folder that
exists), outputs are written atomically and arguments are bounded. Ctrl-C is handled by
`__main__`: one line, exit 130 (finished runs stay in the cache); during `grade`, by grade
itself: the graders and workers are stopped at once, one line, exit 130.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import io
import json
import math
import os
import signal
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from quizzes.progress import write_atomically

from .grading import Limits, Report, Submission, grade
from .grading.sandbox import MAX_SECONDS, stop_all
from .grading.wire import clean
from .lessons import overfitting as lesson
from .models import CELLS
from .results import table
from .runs import worker_context
from .training import History, train

MAX_SEEDS = 1000
MAX_EPOCHS = 10_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnn_lesson", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    rep = commands.add_parser("reproduce", help="train the baseline and the fix on seeds 0..N-1")
    rep.add_argument("--seeds", type=_bounded(1, MAX_SEEDS), default=10,
                     help=f"number of seeds (default 10, at most {MAX_SEEDS})")
    rep.add_argument("--json", type=Path, help="write the per-seed metrics to this file")
    _add_run_options(rep)

    one = commands.add_parser("train", help="train one configuration and print its progress")
    one.add_argument("--preset", choices=sorted(lesson.EXPERIMENTS), default=lesson.FIX.name,
                     help="start from this configuration (default: fix)")
    one.add_argument("--cell", choices=sorted(CELLS))
    one.add_argument("--hidden", type=_bounded(1, 4096), help="hidden size")
    one.add_argument("--layers", type=_bounded(1, 16), help="number of stacked recurrent layers")
    one.add_argument("--dropout", type=float, help="dropout inside the stack and after it, in [0, 1)")
    one.add_argument("--lr", type=float, help="Adam learning rate")
    one.add_argument("--batch-size", type=_bounded(1, 100_000))
    one.add_argument("--epochs", type=_bounded(1, MAX_EPOCHS), help="maximum number of epochs")
    one.add_argument("--weight-decay", type=float)
    one.add_argument("--grad-clip", type=float, help="max gradient norm")
    one.add_argument("--early-stopping", action=argparse.BooleanOptionalAction, default=None)
    one.add_argument("--patience", type=_bounded(1, MAX_EPOCHS))
    one.add_argument("--seed", type=_bounded(0, 2**31 - 1), default=0)
    one.add_argument("--plot", type=Path, help="save the learning curves to this PNG")

    abl = commands.add_parser("ablation", help="each of the lesson's four changes, one at a time, "
                              "on seeds 0..N-1 (cached)")
    abl.add_argument("--seeds", type=_bounded(1, MAX_SEEDS), default=20,
                     help=f"number of seeds (default 20, at most {MAX_SEEDS})")
    abl.add_argument("--json", type=Path, help="write the per-seed metrics to this file")
    _add_run_options(abl)

    grid = commands.add_parser("map", aliases=["sweep"],
                               help="train the dropout x hidden-size map (cached)")
    grid.add_argument("--json", type=Path, help="write the per-cell mean/min/max to this file")
    grid.add_argument("--plot", type=Path, help="save the two heatmaps to this PNG")
    _add_run_options(grid)

    marks = commands.add_parser(
        "grade", help="grade submitted files, each defining MyRNN and settings as in notebook 02",
        description="Grade learners' files in fresh processes (as notebook 02's check does): the "
        "verdict and the feedback per file; exit 0 if every file passes, 1 otherwise. A folder "
        "stands for the .py files in it.")
    marks.add_argument("files", nargs="+", type=Path, help="FILE.py or a folder of them")
    marks.add_argument("--workers", type=_bounded(1, _max_workers()), default=2,
                       help="files graded at once (default 2)")
    marks.add_argument("--csv", type=Path, help="also write the grades to this CSV file")
    marks.add_argument("--seconds", type=_seconds, default=Limits.seconds,
                       help=f"time limit per file, in seconds (default {Limits.seconds:g}, from 1 "
                       f"to {MAX_SECONDS:g})")

    args = parser.parse_args(argv)
    commands_run = {"reproduce": _reproduce, "train": _train, "map": _map, "sweep": _map,
                    "ablation": _ablation, "grade": _grade}
    try:
        for option in ("json", "plot", "csv"):  # a bad path must not waste the runs
            _check_output(getattr(args, option, None), make_folder=option != "csv")
        return commands_run[args.command](args)
    except ValueError as error:  # bad hyperparameters or paths: one clear line, not a traceback
        parser.exit(2, f"error: {error}\n")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=_bounded(1, _max_workers()), default=2,
                        help="processes (default 2)")
    parser.add_argument("--no-cache", action="store_true", help="retrain every run")


def _max_workers() -> int:
    return 4 * (os.cpu_count() or 1)


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value
    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and 1 <= value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_SECONDS:g} seconds, got {text}")
    return value


def _check_output(path: Path | None, make_folder: bool = True) -> None:
    """Before any work: `path` can be written (its folder made if missing, unless `make_folder`
    is False; a probe file created and removed there), and is not a folder or a special file."""
    if path is None:
        return
    if path.is_dir():
        raise ValueError(f"{path} is a folder: give a file name, for example {path / 'out.json'}")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        raise ValueError(f"{path} is not a regular file (a device or a pipe): give a file name")
    folder = path.parent
    if not make_folder and not folder.is_dir():
        raise ValueError(f"cannot write {path}: the folder {folder} does not exist. Create it, or "
                         "choose a file in a folder that exists")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=".rnn-lesson-probe-")
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise ValueError(f"cannot write {path}: {error.strerror or error}. Choose a writable "
                         "folder") from None


def _write(path: Path, content: str | bytes,
           kept: str = "the runs are kept in the cache: run the command again once it can be "
                       "written") -> None:
    try:
        write_atomically(path, content)
    except OSError as error:  # the disk filled during the runs: the runs are cached
        raise ValueError(f"could not write {path}: {error.strerror or error} ({kept})") from None


def _save_figure(figure, path: Path) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    _write(path, buffer.getvalue())


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
    print(f"{history.stop_reason}; {history.kept}")
    print(history.summary())
    print(lesson.check_task(history))
    if args.plot:
        _save_figure(lesson.plot_run(history), args.plot)
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
        _write(args.json, json.dumps(per_seed, indent=1))
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
        _write(args.json, json.dumps(lesson.ablation_json(groups), indent=1))
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
        _write(args.json, json.dumps(result.to_json(), indent=2))
        print(f"per-cell metrics written to {args.json}")
    if args.plot:
        _save_figure(lesson.map_figure(result), args.plot)
        print(f"heatmaps saved to {args.plot}")
    return 0


# ---------------------------------------------------------------------------------------------
# grade: a teacher re-grades submitted files


GRADE_FIELDS = ("file", "passed", "val_acc", "train_acc", "fresh_acc", "confirm_acc",
                "untrained_acc", "epochs", "error", "not_earned", "traps", "warnings", "seconds")
GRADE_INTERRUPTED = ("\nInterrupted: grading stopped (the files not graded yet have no grade, "
                     "and no CSV was written).\n")


def _grade(args: argparse.Namespace) -> int:
    files, missing = _submitted_files(args.files)
    limits = Limits(seconds=args.seconds)
    worker_context()  # the forkserver starts here, deaf to Ctrl-C, not in a grading thread

    def one(path: Path) -> tuple[Path, Report]:
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            return path, Report(error=f"cannot read it as UTF-8 text ({error.reason} at byte "
                                      f"{error.start}): save it as UTF-8")
        except OSError as error:
            return path, Report(error=f"cannot read it ({error.strerror or error})")
        return path, grade(Submission(source, origin=path.name), limits)

    rows = []
    for path, problem in missing:
        print(f"{clean(str(path))}: MISSING  {problem}", flush=True)
        rows.append(_grade_row(path, Report(error=problem)))
    pool = concurrent.futures.ThreadPoolExecutor(args.workers)  # each grade is a grader and its workers
    try:
        for path, report in pool.map(one, files):
            print(_grade_lines(path, report), flush=True)
            rows.append(_grade_row(path, report))
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one line, however often it is pressed
        stop_all()  # the graders and workers end now; the grades in progress return at once
        pool.shutdown(wait=True, cancel_futures=True)
        sys.stderr.write(GRADE_INTERRUPTED)
        return 130
    pool.shutdown()
    passed = sum(row["passed"] for row in rows)
    print(f"\n{passed} of {len(rows)} files pass the task"
          + (f" ({len(missing)} not found or not a file)" if missing else ""))
    if args.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=GRADE_FIELDS)
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
        _write(args.csv, buffer.getvalue(), kept="the grades are printed above")
        _readable(args.csv)
        print(f"grades written to {args.csv}")
    return 0 if passed == len(rows) else 1


def _readable(path: Path) -> None:
    """The mode an ordinary new file gets (0644 with the usual umask 022), not the private mode
    of the atomic writer's temporary file."""
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.chmod(path, 0o666 & ~mask)
    except OSError:
        pass


def _submitted_files(paths: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The files to grade (a folder stands for its .py files), and the paths that cannot be
    graded, each with why."""
    files, missing = [], []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.py") if p.is_file())
            if not found:
                missing.append((path, "a folder with no .py files"))
            files += found
        elif path.is_file():
            files.append(path)
        elif path.exists():
            missing.append((path, "not a regular .py file (a device, a pipe or a socket)"))
        else:
            missing.append((path, "does not exist: give .py files or folders of them"))
    if not files and not missing:
        raise ValueError("no .py files to grade")
    return files, missing


def _grade_lines(path: Path, report: Report) -> str:
    """A file's verdict for the terminal: one line each, every text that came from the file's
    code (or its name) on one line with no control characters (`clean`): a submission cannot
    print a line that looks like another file's verdict, or move the cursor."""
    name = clean(str(path))
    if report.error:
        return f"{name}: ERROR  {clean(report.error)}"
    mark = "PASSED" if report.passed else "NOT PASSED"
    again = "" if math.isnan(report.confirm_acc) else (
        f"  trained again {report.confirm_acc:.1%}"
        + (f" (mean of {len(report.confirm_accs)})" if len(report.confirm_accs) > 1 else ""))
    lines = [f"{name}: {mark}  val {report.val_acc:.1%}  train {report.train_acc:.1%}  fresh draw "
             f"{report.fresh_acc:.1%}{again}  ({clean(report.settings_text)})",
             f"  {clean(report.short if report.refusals else report.verdict)}"]
    lines += [f"  not passed: {clean(why)}" for why in report.refusals]
    lines += [f"  trap: {clean(trap)}" for trap in report.traps]
    lines += [f"  PyTorch warned: {clean(warning)}" for warning in report.warnings]
    return "\n".join(lines)


def _cell(value):
    """A CSV cell a spreadsheet shows as text: one starting with =, +, -, @, a tab or a carriage
    return (a formula to Excel, LibreOffice and Sheets) gets a leading single quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _grade_row(path: Path, report: Report) -> dict:
    history = None if report.error else report.history
    return {"file": str(path), "passed": report.passed,
            **{k: "" if report.error or math.isnan(getattr(report, k))
               else f"{getattr(report, k):.4f}"
               for k in ("val_acc", "train_acc", "fresh_acc", "confirm_acc", "untrained_acc")},
            "epochs": "" if history is None else history.epochs, "error": report.error,
            "not_earned": " | ".join(report.refusals), "traps": " | ".join(report.traps),
            "warnings": " | ".join(report.warnings), "seconds": f"{report.seconds:.1f}"}


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


if __name__ == "__main__":
    sys.exit(main())
