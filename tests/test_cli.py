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
