import json

import pytest

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
        with pytest.raises(SystemExit) as exit_info:
            main(command + [option, str(tmp_path)])  # a folder
        assert exit_info.value.code == 2 and "is a folder" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            main(command + [option, str(tmp_path / "missing" / "out.json")])
        assert "does not exist" in capsys.readouterr().err


def test_cli_map_is_registered(capsys):
    with pytest.raises(SystemExit):
        main(["map", "--help"])
    assert "--workers" in capsys.readouterr().out
