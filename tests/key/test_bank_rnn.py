"""Independent confirmation of every value in autograder/tasks/bank_rnn/key.toml.

Balances come from plain bookkeeping (no network), the states from the ReLU
recurrence with the document's weights in NumPy, and again from torch.nn.RNN
when torch is installed.
"""

import numpy as np
import pytest

from autograder.tasks.answer_key import entry, value

TASK = "bank_rnn"


def bookkeeping(h0, xs):
    """Balances after every transaction, by arithmetic on the account itself."""
    balance = h0[0] - h0[1]
    out = []
    for deposit, withdrawal in xs:
        balance = balance + deposit - withdrawal
        out.append(balance)
    return np.array(out)


def relu_rnn(h0, xs, W_hh, W_xh, b_h):
    h, out = np.array(h0, dtype=np.float64), []
    for x in xs:
        h = np.maximum(0.0, W_hh @ h + W_xh @ x + b_h)
        out.append(h)
    return np.array(out)


def test_initial_state():
    h0 = value(TASK, "exam_initial_state")
    np.testing.assert_array_equal(h0, [10000.0, 5000.0, 765.0])
    assert h0[0] - h0[1] > 0 and h0[2] > 0  # not in the red, and the flag is positive


def test_exam_inputs():
    xs = value(TASK, "exam_inputs")
    assert xs.shape == (3, 2) and np.all(xs >= 0)


def test_exam_balances():
    h0, xs = value(TASK, "exam_initial_state"), value(TASK, "exam_inputs")
    np.testing.assert_array_equal(value(TASK, "exam_balances"), bookkeeping(h0, xs))
    np.testing.assert_array_equal(value(TASK, "exam_balances"), [5000 + 1000, 6000 + 1000 - 3500, 3500 - 4000])


def test_exam_states():
    h0, xs = value(TASK, "exam_initial_state"), value(TASK, "exam_inputs")
    w = entry(TASK, "exam_weights")
    states = value(TASK, "exam_states")
    np.testing.assert_array_equal(states, relu_rnn(h0, xs, w["W_hh"], w["W_xh"], w["b_h"]))
    balances = bookkeeping(h0, xs)
    # the semantics of the state: funds = balance + overdraft, overdraft constant, flag = ReLU(balance)
    np.testing.assert_array_equal(states[:, 0], balances + h0[1])
    np.testing.assert_array_equal(states[:, 1], np.full(3, h0[1]))
    np.testing.assert_array_equal(states[:, 2], np.maximum(balances, 0))


def test_document_weights_behave():
    from autograder.tasks.bank_rnn.checks import random_account

    w = entry(TASK, "exam_weights")
    rng = np.random.default_rng(2022)
    for _ in range(200):
        h0, xs, balances = random_account(rng, int(rng.integers(1, 13)))
        np.testing.assert_array_equal(balances, bookkeeping(h0, xs))
        states = relu_rnn(h0, xs, w["W_hh"], w["W_xh"], w["b_h"])
        np.testing.assert_array_equal(states[:, 0], balances + h0[1])
        np.testing.assert_array_equal(states[:, 1], h0[1])
        assert np.all(states[balances < 0, 2] == 0) and np.all(states[balances > 0, 2] > 0)


def test_exam_states_with_torch():
    torch = pytest.importorskip("torch")
    w = entry(TASK, "exam_weights")
    rnn = torch.nn.RNN(2, 3, nonlinearity="relu", batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.tensor(w["W_hh"]))
        rnn.weight_ih_l0.copy_(torch.tensor(w["W_xh"]))
        rnn.bias_ih_l0.copy_(torch.tensor(w["b_h"]))
        rnn.bias_hh_l0.zero_()
        xs = torch.tensor(value(TASK, "exam_inputs")).unsqueeze(0)
        h0 = torch.tensor(value(TASK, "exam_initial_state")).reshape(1, 1, 3)
        out, _ = rnn(xs, h0)
    np.testing.assert_allclose(value(TASK, "exam_states"), out[0].numpy(), rtol=0, atol=1e-9)
