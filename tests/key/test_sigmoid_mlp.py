"""Independent confirmation of autograder/tasks/sigmoid_mlp/key.toml.

The document is symbolic; the key's numbers are the task author's verification
point. They are recomputed here with float64 central finite differences of a
loss written independently (log-sigmoid form) and with torch autograd.
"""

import numpy as np
import pytest

from autograder.grading.gradcheck import numerical_gradient, numerical_gradients
from autograder.tasks.answer_key import entry, value

TASK = "sigmoid_mlp"
KEYS = ("W", "b1", "U", "b2")


def _params():
    return {k: value(TASK, "point", k) for k in KEYS}


def _loss(X, y, W, b1, U, b2):
    """Mean BCE, written as -[y log s(t) + (1-y) log s(-t)] with log s(t) = -log(1 + e^-t)."""
    X = np.atleast_2d(X)
    h = 1.0 / (1.0 + np.exp(-(X @ W.T + b1)))
    t = h @ U.T[:, 0] + b2[0]
    y = np.atleast_1d(y)
    return float(np.mean(y * np.log1p(np.exp(-t)) + (1 - y) * np.log1p(np.exp(t))))


def _fd(X, y):
    return numerical_gradients(lambda **p: _loss(X, y, **p), _params(), h=1e-6)


def test_key_says_symbols_only():
    for name in ("point", "batch_point"):
        assert "not taken from the document" in entry(TASK, name)["verified"]


def test_forward():
    p = _params()
    x = value(TASK, "point", "x")
    np.testing.assert_allclose(value(TASK, "hidden_preactivation"), p["W"] @ x + p["b1"], rtol=1e-12, atol=1e-15)
    assert value(TASK, "loss") == pytest.approx(_loss(x, value(TASK, "point", "y"), **p), rel=1e-12)
    X, y = value(TASK, "batch_point", "X"), value(TASK, "batch_point", "y")
    assert value(TASK, "batch_loss") == pytest.approx(_loss(X, y, **p), rel=1e-12)


def test_deltas():
    p = _params()
    x, y = value(TASK, "point", "x"), float(value(TASK, "point", "y"))

    def loss_of_theta(t):
        return float(y * np.log1p(np.exp(-t)) + (1 - y) * np.log1p(np.exp(t)))

    def loss_of_z(z):
        h = 1.0 / (1.0 + np.exp(-z))
        return loss_of_theta(float(p["U"][0] @ h + p["b2"][0]))

    z = p["W"] @ x + p["b1"]
    theta = float(p["U"][0] @ (1.0 / (1.0 + np.exp(-z))) + p["b2"][0])
    d1 = numerical_gradient(lambda t: loss_of_theta(float(t)), np.array(theta), h=1e-6)
    assert value(TASK, "delta1") == pytest.approx(float(d1), rel=1e-8)
    np.testing.assert_allclose(value(TASK, "delta2"), numerical_gradient(loss_of_z, z.copy(), h=1e-6), rtol=1e-7)


def test_single_gradients():
    fd = _fd(value(TASK, "point", "x"), value(TASK, "point", "y"))
    for k in KEYS:
        np.testing.assert_allclose(value(TASK, f"grad_{k}"), fd[k], rtol=1e-7, atol=1e-10, err_msg=k)
    np.testing.assert_allclose(value(TASK, "grad_b1"), value(TASK, "delta2"), rtol=1e-12)
    # the document's eq. (6) (sigma'(z1) in every row) is NOT what the key holds
    p = _params()
    z = p["W"] @ value(TASK, "point", "x") + p["b1"]
    s1 = 1 / (1 + np.exp(-z[0]))
    typo = np.outer(value(TASK, "delta1") * p["U"][0] * s1 * (1 - s1), value(TASK, "point", "x"))
    assert not np.allclose(typo, value(TASK, "grad_W"), rtol=1e-3)


def test_batch_gradients():
    fd = _fd(value(TASK, "batch_point", "X"), value(TASK, "batch_point", "y"))
    for k in KEYS:
        np.testing.assert_allclose(value(TASK, f"batch_grad_{k}"), fd[k], rtol=1e-7, atol=1e-10, err_msg=k)


def _torch_grads(X, y):
    torch = pytest.importorskip("torch")
    P = {k: torch.tensor(v, requires_grad=True) for k, v in _params().items()}
    Xt = torch.tensor(np.atleast_2d(X))
    theta = (torch.sigmoid(Xt @ P["W"].T + P["b1"]) @ P["U"].T + P["b2"])[:, 0]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(theta, torch.tensor(np.atleast_1d(y)))
    loss.backward()
    return float(loss.detach()), {k: v.grad.numpy() for k, v in P.items()}


def test_single_gradients_torch():
    loss, g = _torch_grads(value(TASK, "point", "x"), value(TASK, "point", "y"))
    assert value(TASK, "loss") == pytest.approx(loss, rel=1e-12)
    for k in KEYS:
        np.testing.assert_allclose(value(TASK, f"grad_{k}"), g[k], rtol=1e-10, atol=1e-15, err_msg=k)


def test_batch_gradients_torch():
    loss, g = _torch_grads(value(TASK, "batch_point", "X"), value(TASK, "batch_point", "y"))
    assert value(TASK, "batch_loss") == pytest.approx(loss, rel=1e-12)
    for k in KEYS:
        np.testing.assert_allclose(value(TASK, f"batch_grad_{k}"), g[k], rtol=1e-10, atol=1e-15, err_msg=k)


def test_errata_are_complete():
    for name in ("hidden_preactivation", "delta2", "grad_W", "grad_b1", "grad_U"):
        assert set(entry(TASK, name)["erratum"]) == {"document_value", "correct_value", "reason"}
