import warnings

import pytest
import torch

from rnn_lesson.data import make_variable_length_batch
from rnn_lesson.models import ModelConfig, build_model, count_parameters


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_every_cell_returns_one_logit_pair_per_sequence(cell):
    model = build_model(ModelConfig(cell=cell, hidden_size=8))
    assert model(torch.randn(4, 7, 10)).shape == (4, 2)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"hidden_size": 0}, ["hidden_size", ">= 1", "0"]),
        ({"num_layers": 0}, ["num_layers", ">= 1"]),
        ({"dropout": 1.0}, ["dropout", "[0, 1)", "1.0"]),
        ({"dropout": -0.1}, ["dropout", "[0, 1)"]),
        ({"cell": "transformer"}, ["unknown cell", "'transformer'", "gru", "lstm", "rnn"]),
    ],
)
def test_bad_arguments_raise_a_clear_value_error(kwargs, words):
    with pytest.raises(ValueError) as error:
        ModelConfig(**kwargs)
    for word in words:
        assert word in str(error.value)


def test_input_size_mismatch_names_both_numbers_and_the_fix():
    model = build_model(ModelConfig(input_size=8, hidden_size=4))
    with pytest.raises(ValueError) as error:
        model(torch.randn(3, 5, 10))
    message = str(error.value)
    assert "10 features" in message and "input_size=8" in message
    assert "ModelConfig(input_size=10)" in message


def test_a_single_sequence_without_batch_dimension_gets_a_clear_error():
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        build_model(ModelConfig())(torch.randn(20, 10))


def test_dropout_with_one_layer_warns_nothing_and_still_drops_after_the_stack():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = build_model(ModelConfig(num_layers=1, dropout=0.3))
    assert model.rnn.dropout == 0.0 and model.dropout.p == 0.3
    assert "one layer" in repr(model)
    assert build_model(ModelConfig(num_layers=2, dropout=0.3)).rnn.dropout == 0.3


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_packed_batch_classifies_from_the_last_valid_step(cell):
    torch.manual_seed(0)
    model = build_model(ModelConfig(cell=cell, hidden_size=8)).eval()
    batch = make_variable_length_batch(n=6, min_len=3, max_len=12)
    with torch.no_grad():
        packed = model(batch.x, batch.lengths)
        one_by_one = torch.cat(
            [model(x[None, :n]) for x, n in zip(batch.x, batch.lengths.tolist())]
        )
        padded_only = model(batch.x)
    torch.testing.assert_close(packed, one_by_one, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(packed, padded_only)  # reading padding gives other answers


def test_bad_lengths_are_rejected_with_their_range():
    model = build_model(ModelConfig())
    with pytest.raises(ValueError, match="between 1 and seq_len=5"):
        model(torch.randn(2, 5, 10), torch.tensor([3, 6]))
    with pytest.raises(ValueError, match="one entry per sequence"):
        model(torch.randn(2, 5, 10), torch.tensor([3]))


def test_parameter_count_of_the_lessons_fix():
    # RNN 10->32 and 32->32 (weights + two biases each), then Linear 32->2
    expected = (32 * 10 + 32 * 32 + 64) + (32 * 32 + 32 * 32 + 64) + (32 * 2 + 2)
    assert count_parameters(build_model(ModelConfig())) == expected


def test_input_dropout_zeroes_inputs_in_training_only_and_is_absent_at_zero():
    import torch

    from rnn_lesson.models import ModelConfig, build_model

    assert build_model(ModelConfig()).input_dropout is None  # no module, no random numbers drawn
    model = build_model(ModelConfig(input_dropout=0.5))
    x = torch.randn(4, 20, 10)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))
