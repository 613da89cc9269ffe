"""Checks of task lstm_params (exam22, problem 5, part 3).

Reference counts are computed here in closed form; tests/key/test_lstm_params.py
confirms them against torch.nn.LSTM / torch.nn.RNN.
"""

from __future__ import annotations

from autograder.grading.checking import as_number, check, expect
from autograder.tasks.answer_key import value

TASK = "lstm_params"


def reference_rnn(input_size: int, hidden_size: int) -> int:
    return hidden_size * input_size + hidden_size * hidden_size + hidden_size


def reference_lstm(input_size: int, hidden_size: int, num_layers: int = 1, bias_vectors: int = 1) -> int:
    total = 0
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else hidden_size
        total += 4 * (hidden_size * layer_input + hidden_size * hidden_size + bias_vectors * hidden_size)
    return total


def _count(student, name, *args, **kwargs) -> float:
    return as_number(student.call(name, *args, **kwargs), f"{name}(...)")


@check
def test_rnn_param_count(student):
    expect(_count(student, "rnn_param_count", 2, 3) == value(TASK, "rnn_exam_cell"),
           "rnn_param_count: wrong count for the exam's RNN (input 2, hidden 3)")
    for _ in range(10):
        i, h = (int(v) for v in student.rng.integers(1, 50, size=2))
        expect(_count(student, "rnn_param_count", i, h) == reference_rnn(i, h),
               "rnn_param_count: wrong count for some input/hidden sizes")


@check
def test_lstm_single_layer(student):
    for _ in range(10):
        i, h = (int(v) for v in student.rng.integers(1, 50, size=2))
        expect(_count(student, "lstm_param_count", i, h) == reference_lstm(i, h),
               "lstm_param_count: wrong count for a one-layer LSTM with one bias per gate")
        expect(_count(student, "lstm_param_count", i, h, bias_vectors=0) == reference_lstm(i, h, 1, 0),
               "lstm_param_count: wrong count without biases (bias_vectors=0)")


@check
def test_lstm_layers_and_biases(student):
    for _ in range(10):
        i, h = (int(v) for v in student.rng.integers(1, 40, size=2))
        layers, biases = int(student.rng.integers(2, 5)), int(student.rng.integers(0, 3))
        expect(_count(student, "lstm_param_count", i, h, num_layers=layers, bias_vectors=biases)
               == reference_lstm(i, h, layers, biases),
               "lstm_param_count: wrong count for a stacked LSTM (num_layers > 1)")
    expect(_count(student, "lstm_param_count", 2, 3, num_layers=2, bias_vectors=2)
           == value(TASK, "exam_two_layer_lstm_pytorch"),
           "lstm_param_count: wrong count with PyTorch's two bias vectors")


@check
def test_exam_answer(student):
    expect(as_number(student.get("exam_lstm_params"), "exam_lstm_params") == value(TASK, "exam_two_layer_lstm"),
           "exam_lstm_params: not the parameter count of the exam's two-layer LSTM (one bias per gate)")
