"""Independent confirmation of autograder/tasks/lstm_params/key.toml."""

import pytest

from autograder.tasks.answer_key import entry, value

TASK = "lstm_params"


def _count_by_hand(input_size, hidden_size, layers, biases):
    """Written out gate by gate: input weights, recurrent weights, biases, for 4 gates per layer."""
    total = 0
    for layer in range(layers):
        inputs = input_size if layer == 0 else hidden_size
        for _gate in ("input", "forget", "cell", "output"):
            total += hidden_size * inputs + hidden_size * hidden_size + biases * hidden_size
    return total


def test_exam_two_layer_lstm_one_bias():
    assert value(TASK, "exam_two_layer_lstm") == _count_by_hand(2, 3, 2, 1) == 156


def test_exam_answer_of_the_document_is_wrong():
    erratum = entry(TASK, "exam_two_layer_lstm")["erratum"]
    assert "68" in erratum["document_value"]
    assert 4 * (3 * 3 + 2 * 3 + 2) == 68 != value(TASK, "exam_two_layer_lstm")


def test_rnn_cell_of_the_exam():
    w_hh, w_xh, b_h = 3 * 3, 3 * 2, 3
    assert value(TASK, "rnn_exam_cell") == w_hh + w_xh + b_h == 18


def test_counts_agree_with_torch_lstm():
    torch = pytest.importorskip("torch")
    lstm = torch.nn.LSTM(2, 3, num_layers=2)
    assert sum(p.numel() for p in lstm.parameters()) == value(TASK, "exam_two_layer_lstm_pytorch") == 180
    one_bias = sum(p.numel() for name, p in lstm.named_parameters() if not name.startswith("bias_hh"))
    assert one_bias == value(TASK, "exam_two_layer_lstm")
    no_bias = torch.nn.LSTM(5, 7, num_layers=3, bias=False)
    assert sum(p.numel() for p in no_bias.parameters()) == _count_by_hand(5, 7, 3, 0)


def test_counts_agree_with_torch_rnn():
    torch = pytest.importorskip("torch")
    rnn = torch.nn.RNN(2, 3, nonlinearity="relu")
    one_bias = sum(p.numel() for name, p in rnn.named_parameters() if not name.startswith("bias_hh"))
    assert one_bias == value(TASK, "rnn_exam_cell")
    assert sum(p.numel() for p in rnn.parameters()) == 21
