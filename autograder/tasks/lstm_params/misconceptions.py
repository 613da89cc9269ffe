"""Misconceptions of task lstm_params: known wrong counting formulas, each with its reference.

A count is probed on sizes the grader draws; ``exam_lstm_params`` (a number the
student declares) is compared with the same wrong formula at the exam's sizes.
See :mod:`autograder.grading.hints` for the contract.
"""

from __future__ import annotations

from autograder.grading.hints import Misconception, like
from autograder.tasks.lstm_params.checks import reference_lstm, reference_rnn

RNN = "test_rnn_param_count"
SINGLE = "test_lstm_single_layer"
LAYERS = "test_lstm_layers_and_biases"
EXAM = "test_exam_answer"
LSTM = (SINGLE, LAYERS, EXAM)
EXAM_SIZES = (2, 3, 2, 1)  # the exam's LSTM: input 2, hidden 3, two layers, one bias per gate (public)


def _lstm(gates=4, *, every_layer_reads_input=False, ignore_bias_vectors=False, recurrent=True, exam_bias=False):
    def count(i, h, layers=1, biases=1):
        total = 0
        for layer in range(1 if exam_bias else layers):
            inp = i if layer == 0 or every_layer_reads_input else h
            bias = i if exam_bias else (1 if ignore_bias_vectors else biases) * h
            total += gates * (h * inp + (h * h if recurrent else 0) + bias)
        return total
    return count


def _lstm_probe(wrong, *, layers=(1, 3), biases=(1, 2)):
    """The student's count on drawn sizes, or else their declared exam answer, matches ``wrong``."""
    def probe(student, rng):
        hits = 0
        for _ in range(3):
            i, h = int(rng.integers(2, 30)), int(rng.integers(2, 30))
            if i == h:
                h += 1
            L, b = int(rng.integers(*layers)), int(rng.choice(biases))
            got = student.call("lstm_param_count", i, h, num_layers=L, bias_vectors=b)
            hits += like(got, wrong(i, h, L, b), reference_lstm(i, h, L, b), rtol=0, atol=0.5)
        if hits == 3:
            return True
        i, h, L, b = EXAM_SIZES
        return like(student.get("exam_lstm_params"), wrong(i, h, L, b), reference_lstm(i, h, L, b), rtol=0,
                    atol=0.5)
    return probe


def _rnn_probe(wrong):
    def probe(student, rng):
        for _ in range(3):
            i, h = int(rng.integers(2, 40)), int(rng.integers(2, 40))
            if not like(student.call("rnn_param_count", i, h), wrong(i, h), reference_rnn(i, h), rtol=0, atol=0.5):
                return False
        return True
    return probe


MISCONCEPTIONS = [
    Misconception(
        id="exam_formula",
        text="This is the exam document's own count, which has two slips: each gate's bias has as many entries "
             "as the hidden state (not the input), and it counts only the first layer of a stacked LSTM.",
        checks=LSTM, probe=_lstm_probe(_lstm(exam_bias=True)), mutants=("exam_formula",), group="lstm"),
    Misconception(
        id="every_layer_reads_input",
        text="Every layer is counted as reading the network's input; the second LSTM layer reads the first "
             "layer's hidden state, not the input.",
        checks=(LAYERS, EXAM), probe=_lstm_probe(_lstm(every_layer_reads_input=True), layers=(2, 4)),
        mutants=("every_layer_reads_input",), group="lstm"),
    Misconception(
        id="three_gates",
        text="The count has three weight blocks per layer (a GRU's count); an LSTM has four: the input, "
             "forget and output gates and the candidate cell.",
        checks=LSTM, probe=_lstm_probe(_lstm(gates=3)), mutants=("three_gates",), group="lstm"),
    Misconception(
        id="ignores_bias_vectors",
        text="The count always uses one bias vector per gate; the argument bias_vectors says how many there "
             "are (none, one, or PyTorch's two).",
        checks=(SINGLE, LAYERS), probe=_lstm_probe(_lstm(ignore_bias_vectors=True), biases=(0, 2)), group="lstm"),
    Misconception(
        id="no_recurrent_weights",
        text="The hidden-to-hidden weights are missing; every gate also multiplies the previous hidden state "
             "by a hidden-by-hidden matrix.",
        checks=LSTM, probe=_lstm_probe(_lstm(recurrent=False)), group="lstm"),
    Misconception(
        id="rnn_two_biases",
        text="The RNN is counted with two bias vectors (as PyTorch stores it); this task's RNN cell has one.",
        checks=(RNN,), probe=_rnn_probe(lambda i, h: h * (i + h + 2)), mutants=("rnn_two_biases",), group="rnn"),
    Misconception(
        id="rnn_no_bias",
        text="The RNN's bias vector is missing from the count; the cell adds a bias of the hidden size.",
        checks=(RNN,), probe=_rnn_probe(lambda i, h: h * (i + h)), group="rnn"),
]
