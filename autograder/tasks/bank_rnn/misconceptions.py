"""Misconceptions of task bank_rnn: known wrong approaches, each with a reference of the mistake.

The weights are probed by their behaviour (the student's weights run through the
reference recurrence on accounts the grader makes up); ``rnn_forward`` is probed
against wrong references on random weights. See :mod:`autograder.grading.hints`.
"""

from __future__ import annotations

import numpy as np

from autograder.grading.checking import CheckFailed
from autograder.grading.hints import Misconception, close, function_probe, like, modifies_argument
from autograder.tasks.answer_key import value
from autograder.tasks.bank_rnn.checks import _judge_states, random_account, reference_rnn_forward

TASK = "bank_rnn"
FORWARD = "test_rnn_forward"
EXAM = "test_exam_states"
BEHAVIOUR = "test_bank_behaviour"
SHAPES = "test_weight_shapes"
WEIGHTS = (SHAPES, EXAM, BEHAVIOUR)


def _weights(student):
    return tuple(np.asarray(student.get(n), dtype=np.float64) for n in ("W_hh", "W_xh", "b_h"))


def _accounts(rng, count=12):
    return [random_account(rng, int(rng.integers(3, 9))) for _ in range(count)]


def _states(student, rng, count=12):
    W = _weights(student)
    return [(h0, xs, bal, reference_rnn_forward(h0, xs, *W)) for h0, xs, bal in _accounts(rng, count)]


def _funds_ok(h0, bal, st):
    return close(st[:, 0], bal + h0[1], rtol=1e-9, atol=1e-6)


def _overdraft_ok(h0, st):
    return close(st[:, 1], np.full(len(st), h0[1]), rtol=1e-9, atol=1e-6)


def _flag_ok(bal, st):
    return bool(np.all(st[bal < 0, 2] == 0) and np.all(st[bal > 0, 2] > 0))


def _flag_never_reset(student, rng):
    runs = _states(student, rng)
    red = [(h0, bal, st) for h0, _, bal, st in runs if np.any(bal < 0)]
    return bool(red) and all(_funds_ok(h0, bal, st) and _overdraft_ok(h0, st) for h0, _, bal, st in runs) and any(
        np.any(st[bal < 0, 2] > 0) for _, bal, st in red)


def _forgets_overdraft(student, rng):
    runs = _states(student, rng)
    return all(_funds_ok(h0, bal, st) for h0, _, bal, st in runs) and all(
        not _overdraft_ok(h0, st) for h0, _, _, st in runs)


def _swapped(student, rng):
    W = _weights(student)
    for _ in range(3):
        steps = int(rng.integers(2, 6))
        h0 = np.array([float(rng.integers(50000, 90000)), float(rng.integers(500, 5000)), 1.0])
        xs = rng.integers(1, 3000, size=(steps, 2)).astype(np.float64)
        funds = reference_rnn_forward(h0, xs, *W)[:, 0]
        right = h0[0] + np.cumsum(xs[:, 0] - xs[:, 1])
        wrong = h0[0] + np.cumsum(xs[:, 1] - xs[:, 0])
        if not like(funds, wrong, right, rtol=1e-9, atol=1e-6):
            return False
    return True


def _exam_only(student, rng):
    W = _weights(student)
    h0, xs = value(TASK, "exam_initial_state"), value(TASK, "exam_inputs")
    try:
        _judge_states(reference_rnn_forward(h0, xs, *W), h0, xs, value(TASK, "exam_balances"), "exam")
    except CheckFailed:
        return False
    for h0, xs, bal in _accounts(rng, 40):
        try:
            _judge_states(reference_rnn_forward(h0, xs, *W), h0, xs, bal, "random")
        except CheckFailed:
            return True
    return False


def _forward_inputs(rng):
    T = int(rng.integers(3, 7))
    return (rng.normal(size=3) * 2, rng.normal(size=(T, 2)) * 2, rng.normal(size=(3, 3)),
            rng.normal(size=(3, 2)), rng.normal(size=3))


def _shifted(h0, xs, W_hh, W_xh, b_h):
    states = reference_rnn_forward(h0, xs, W_hh, W_xh, b_h)
    return np.vstack([np.asarray(h0, dtype=np.float64)[None, :], states[:-1]])


def _no_relu(h0, xs, W_hh, W_xh, b_h):
    h, out = np.asarray(h0, dtype=np.float64), []
    for x in xs:
        h = W_hh @ h + W_xh @ x + b_h
        out.append(h)
    return np.array(out)


def _relu_before_input(h0, xs, W_hh, W_xh, b_h):
    h, out = np.asarray(h0, dtype=np.float64), []
    for x in xs:
        h = np.maximum(0.0, W_hh @ h) + W_xh @ x + b_h
        out.append(h)
    return np.array(out)


MISCONCEPTIONS = [
    Misconception(
        id="flag_never_reset",
        text="Your flag only carries its previous value forward: it stays positive after the account goes "
             "into the red. The flag must be computed from the balance at every step (the ReLU cuts it to zero "
             "when the balance is negative).",
        checks=WEIGHTS, probe=_flag_never_reset, mutants=("flag_never_reset",), overrides=("exam_only",),
        group="weights"),
    Misconception(
        id="forgets_overdraft",
        text="The allowed overdraft is not carried from one step to the next; a state component that must stay "
             "constant needs a one on its own recurrent weight and nothing from the inputs.",
        checks=WEIGHTS, probe=_forgets_overdraft, mutants=("forgets_overdraft",), overrides=("exam_only",),
        group="weights"),
    Misconception(
        id="swapped_transactions",
        text="Deposits and withdrawals are swapped: a deposit must increase the available funds and a "
             "withdrawal decrease them (check the columns of W_xh).",
        checks=WEIGHTS, probe=_swapped, mutants=("swapped_columns",), overrides=("exam_only",), group="weights"),
    Misconception(
        id="exam_only",
        text="Your weights reproduce the exam's three steps but not other transaction sequences; they must "
             "keep the books for any deposits and withdrawals, not just the exam's example.",
        checks=(BEHAVIOUR,), probe=_exam_only, group="weights"),
    Misconception(
        id="states_off_by_one",
        text="rnn_forward returns the states before each step (starting with h0); it must return the states "
             "after each step, h_1 to h_T.",
        checks=(FORWARD,), mutants=("off_by_one",), group="forward",
        probe=function_probe("rnn_forward", _forward_inputs, reference_rnn_forward, _shifted, rtol=1e-9)),
    Misconception(
        id="no_relu",
        text="rnn_forward applies no ReLU; this RNN's state is max(0, W_hh h + W_xh x + b_h) at every step.",
        checks=(FORWARD,), mutants=("no_relu",), group="forward",
        probe=function_probe("rnn_forward", _forward_inputs, reference_rnn_forward, _no_relu, rtol=1e-9)),
    Misconception(
        id="relu_on_recurrent_term_only",
        text="The ReLU is applied to the recurrent term alone; it applies to the whole pre-activation "
             "W_hh h + W_xh x + b_h.",
        checks=(FORWARD,), group="forward",
        probe=function_probe("rnn_forward", _forward_inputs, reference_rnn_forward, _relu_before_input,
                             rtol=1e-9)),
    Misconception(
        id="modifies_h0",
        text="rnn_forward changes the caller's h0 (an in-place update of the state); work on a copy and "
             "leave the arguments untouched.",
        checks=(FORWARD,), mutants=("modifies_h0",),
        probe=modifies_argument("rnn_forward", _forward_inputs, index=0)),
]
