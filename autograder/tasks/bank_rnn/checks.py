"""Checks of task bank_rnn (exam22, problem 5, parts 1-2).

The weights are judged by their BEHAVIOUR, so every weight set that keeps the
books passes: available funds and overdraft must be exact, the flag must be 0
when the balance is negative and positive when it is positive (balances of
exactly 0 never occur in the tests). Those behaviour checks run the student's
weights through the reference recurrence below; rnn_forward is checked on its
own against the same reference with random weights.
"""

from __future__ import annotations

import numpy as np

from autograder.grading.checking import as_array, assert_close, check, dtype_name, expect, fail
from autograder.tasks.answer_key import value

TASK = "bank_rnn"


# -- references ----------------------------------------------------------------------

def reference_rnn_forward(h0, xs, W_hh, W_xh, b_h):
    h = np.asarray(h0, dtype=np.float64)
    states = []
    for x in np.asarray(xs, dtype=np.float64):
        h = np.maximum(0.0, W_hh @ h + W_xh @ x + b_h)
        states.append(h)
    return np.array(states).reshape(len(states), -1)


def random_account(rng, steps):
    """A random account and transaction sequence that never exceeds the overdraft.

    Returns h0 (3,), xs (steps, 2) and the true balance after every step; no balance
    (initial included) is exactly 0, amounts are whole currency units.
    """
    overdraft = float(rng.integers(500, 20001))
    balance = 0.0
    while balance == 0.0:
        balance = float(rng.integers(-int(overdraft) + 1, 30001))
    flag = float(rng.uniform(1.0, 10000.0)) if balance > 0 else 0.0
    h0 = np.array([balance + overdraft, overdraft, flag])
    xs, balances = [], []
    for _ in range(steps):
        while True:
            kind = int(rng.integers(0, 4))
            deposit = float(rng.integers(1, 15001)) if kind in (0, 2) else 0.0
            available = balance + overdraft + deposit
            withdrawal = float(rng.integers(1, int(available))) if kind in (1, 2) and available > 1 else 0.0
            new = balance + deposit - withdrawal
            if new != 0.0 and new + overdraft >= 1.0:
                break
        balance = new
        xs.append([deposit, withdrawal])
        balances.append(balance)
    return h0, np.array(xs), np.array(balances)


# -- helpers ---------------------------------------------------------------------------

def _weights(student):
    W_hh = as_array(student.get("W_hh"), "W_hh", shape=(3, 3))
    W_xh = as_array(student.get("W_xh"), "W_xh", shape=(3, 2))
    b_h = as_array(student.get("b_h"), "b_h", shape=(3,))
    for name, w in (("W_hh", W_hh), ("W_xh", W_xh), ("b_h", b_h)):
        expect(np.all(np.isfinite(w)), f"{name} contains inf or NaN")
    return W_hh, W_xh, b_h


def _judge_states(states, h0, xs, balances, what):
    overdraft = h0[1]
    T = len(xs)
    expected_funds = np.column_stack([balances + overdraft, np.full(T, overdraft)])
    assert_close(states[:, 0], expected_funds[:, 0], f"{what}: available funds (state component 0)",
                 rtol=1e-9, atol=1e-6)
    assert_close(states[:, 1], expected_funds[:, 1], f"{what}: allowed overdraft (state component 1)",
                 rtol=1e-9, atol=1e-6)
    flags = states[:, 2]
    expect(np.all(np.isfinite(flags)), f"{what}: the flag contains inf or NaN")
    expect(np.all(flags[balances < 0] == 0), f"{what}: the flag is not 0 while the account is in the red")
    expect(np.all(flags[balances > 0] > 0), f"{what}: the flag is not positive while the balance is positive")


# -- checks ------------------------------------------------------------------------------

@check
def test_weight_shapes(student):
    W_hh, W_xh, b_h = _weights(student)
    # shapes alone would pay any three arrays: the first two state components must also keep the books
    for _ in range(5):
        h0, xs, balances = random_account(student.rng, int(student.rng.integers(1, 6)))
        states = reference_rnn_forward(h0, xs, W_hh, W_xh, b_h)
        assert_close(states[:, :2], np.column_stack([balances + h0[1], np.full(len(xs), h0[1])]),
                     "the weights on a random sequence of transactions: available funds and overdraft "
                     "(state components 0 and 1)", rtol=1e-9, atol=1e-6)


@check
def test_rnn_forward(student):
    rng = student.rng
    # the notebook's public example
    h0 = np.array([1.0, 2.0, 3.0])
    xs = np.array([[1.0, 1.0], [-5.0, 0.0]])
    W_hh, W_xh, b_h = np.eye(3), np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]), np.array([0.0, 0.0, -1.0])
    out = student.call("rnn_forward", h0, xs, W_hh, W_xh, b_h)
    assert_close(as_array(out, "rnn_forward(...)"), reference_rnn_forward(h0, xs, W_hh, W_xh, b_h),
                 "rnn_forward on the notebook's example", rtol=1e-9, atol=1e-9)
    for T in (1, 2, 5, 9):
        h0 = rng.normal(size=3) * 2.0
        xs = rng.normal(size=(T, 2)) * 2.0
        W_hh, W_xh, b_h = rng.normal(size=(3, 3)), rng.normal(size=(3, 2)), rng.normal(size=3)
        args = (h0, xs, W_hh, W_xh, b_h)
        out, after = student.call_keep_args("rnn_forward", *args)
        for name, before, now in zip(("h0", "xs", "W_hh", "W_xh", "b_h"), args, after):
            expect(isinstance(now, np.ndarray) and now.shape == before.shape and np.array_equal(now, before),
                   f"rnn_forward: the argument {name} was modified")
        if isinstance(out, np.ndarray) and out.dtype.kind != "f":
            fail(f"rnn_forward(...): expected a floating-point array, got dtype {dtype_name(out)}")
        out = as_array(out, "rnn_forward(...)", shape=(T, 3))
        assert_close(out, reference_rnn_forward(*args), f"rnn_forward on random weights ({T} steps)",
                     rtol=1e-9, atol=1e-9)


@check
def test_exam_states(student):
    # the weights are judged here, with the reference recurrence (rnn_forward has its own check), so a
    # mistake in rnn_forward does not cost these points again
    W_hh, W_xh, b_h = _weights(student)
    h0 = value(TASK, "exam_initial_state")
    xs = value(TASK, "exam_inputs")
    out = reference_rnn_forward(h0, xs, W_hh, W_xh, b_h)
    _judge_states(out, h0, xs, value(TASK, "exam_balances"), "your weights on the exam's three steps")
    assert_close(out[:, :2], value(TASK, "exam_states")[:, :2], "your weights on the exam's three steps",
                 rtol=1e-9, atol=1e-6)
    # your weights on accounts the student has not seen
    for _ in range(4):
        h0, xs, balances = random_account(student.rng, 3)
        _judge_states(reference_rnn_forward(h0, xs, W_hh, W_xh, b_h), h0, xs, balances,
                      "your weights on three random steps")


@check
def test_bank_behaviour(student):
    W_hh, W_xh, b_h = _weights(student)
    rng = student.rng
    # the notebook's public example: out of the red and back in
    h0 = np.array([2000.0, 3000.0, 0.0])
    xs = np.array([[1500.0, 0.0], [0.0, 800.0]])
    _judge_states(reference_rnn_forward(h0, xs, W_hh, W_xh, b_h), h0, xs, np.array([500.0, -300.0]),
                  "an account leaving the red and entering it again")
    for _ in range(40):
        steps = int(rng.integers(1, 13))
        h0, xs, balances = random_account(rng, steps)
        _judge_states(reference_rnn_forward(h0, xs, W_hh, W_xh, b_h), h0, xs, balances,
                      "a random sequence of transactions")
