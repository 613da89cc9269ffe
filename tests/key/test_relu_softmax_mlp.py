"""Independent confirmation of autograder/tasks/relu_softmax_mlp/key.toml.

The document is symbolic; the key's numbers are the task author's verification
batches. They are recomputed here with float64 central finite differences, torch
autograd, and (for the batch with exact zeros, where finite differences are not
defined) an explicit per-example, per-entry loop with ReLU'(0) = 0.
"""

import numpy as np
import pytest

from autograder.grading.gradcheck import numerical_gradient, numerical_gradients
from autograder.tasks.answer_key import entry, value

TASK = "relu_softmax_mlp"
KEYS = ("W1", "b1", "W2", "b2")


def _batch(name):
    return value(TASK, name, "X"), value(TASK, name, "Y"), {k: value(TASK, name, k) for k in KEYS}


def _loss_from_scores(Z2, Y):
    out = 0.0
    for z, y in zip(Z2, Y):
        m = max(z)
        out += -float(y @ (z - m - np.log(np.sum(np.exp(z - m)))))
    return out / len(Z2)


def _loss(X, Y, W1, b1, W2, b2):
    return _loss_from_scores(np.maximum(X @ W1 + b1, 0.0) @ W2 + b2, Y)


def _loop_gradients(X, Y, W1, b1, W2, b2):
    """Per example and per entry, with ReLU'(0) = 0 written out explicitly."""
    N, D = X.shape
    H, C = W2.shape
    g = {"W1": np.zeros((D, H)), "b1": np.zeros(H), "W2": np.zeros((H, C)), "b2": np.zeros(C)}
    for n in range(N):
        z1 = [sum(X[n, d] * W1[d, h] for d in range(D)) + b1[h] for h in range(H)]
        a1 = [z if z > 0 else 0.0 for z in z1]
        z2 = [sum(a1[h] * W2[h, c] for h in range(H)) + b2[c] for c in range(C)]
        m = max(z2)
        s = sum(np.exp(z - m) for z in z2)
        dz2 = [(np.exp(z2[c] - m) / s - Y[n, c]) / N for c in range(C)]
        for c in range(C):
            g["b2"][c] += dz2[c]
            for h in range(H):
                g["W2"][h, c] += a1[h] * dz2[c]
        for h in range(H):
            dz1 = sum(dz2[c] * W2[h, c] for c in range(C)) * (1.0 if z1[h] > 0 else 0.0)
            g["b1"][h] += dz1
            for d in range(D):
                g["W1"][d, h] += X[n, d] * dz1
    return g


def _torch(X, Y, params):
    torch = pytest.importorskip("torch")
    T = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    A1 = torch.relu(torch.tensor(X) @ T["W1"] + T["b1"])
    A1.retain_grad()
    Z2 = A1 @ T["W2"] + T["b2"]
    Z2.retain_grad()
    loss = torch.nn.functional.cross_entropy(Z2, torch.tensor(Y.argmax(axis=1)))
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in T.items()}
    return float(loss.detach()), grads, Z2.grad.numpy(), A1.grad.numpy()


def test_points_are_the_authors():
    for name in ("point", "zero_point"):
        assert "not taken from the document" in entry(TASK, name)["verified"]
    X, Y, p = _batch("point")
    assert np.min(np.abs(X @ p["W1"] + p["b1"])) > 0.05
    X, Y, p = _batch("zero_point")
    Z1 = X @ p["W1"] + p["b1"]
    np.testing.assert_array_equal(Z1, [[0, 2, -1.5], [-2.5, 3, -1.5], [0, -1, 1]])


def test_loss():
    X, Y, p = _batch("point")
    assert value(TASK, "loss") == pytest.approx(_loss(X, Y, **p), rel=1e-12)


def test_loss_torch():
    X, Y, p = _batch("point")
    loss, *_ = _torch(X, Y, p)
    assert value(TASK, "loss") == pytest.approx(loss, rel=1e-12)


def test_gradients():
    X, Y, p = _batch("point")
    fd = numerical_gradients(lambda **q: _loss(X, Y, **q), p, h=1e-6)
    for k in KEYS:
        np.testing.assert_allclose(value(TASK, f"grad_{k}"), fd[k], rtol=1e-7, atol=1e-10, err_msg=k)


def test_gradients_torch():
    X, Y, p = _batch("point")
    _, g, _, _ = _torch(X, Y, p)
    for k in KEYS:
        np.testing.assert_allclose(value(TASK, f"grad_{k}"), g[k], rtol=1e-10, atol=1e-15, err_msg=k)


def test_intermediate_gradients():
    X, Y, p = _batch("point")
    Z1 = X @ p["W1"] + p["b1"]
    A1 = np.maximum(Z1, 0.0)
    fd_z2 = numerical_gradient(lambda z: _loss_from_scores(z, Y), A1 @ p["W2"] + p["b2"], h=1e-6)
    fd_a1 = numerical_gradient(lambda a: _loss_from_scores(a @ p["W2"] + p["b2"], Y), A1.copy(), h=1e-6)
    np.testing.assert_allclose(value(TASK, "output_delta"), fd_z2, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(value(TASK, "hidden_grad"), fd_a1, rtol=1e-7, atol=1e-10)


def test_intermediate_gradients_torch():
    X, Y, p = _batch("point")
    _, _, gz2, ga1 = _torch(X, Y, p)
    np.testing.assert_allclose(value(TASK, "output_delta"), gz2, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(value(TASK, "hidden_grad"), ga1, rtol=1e-10, atol=1e-15)


def test_zero_point():
    X, Y, p = _batch("zero_point")
    assert value(TASK, "zero_loss") == pytest.approx(_loss(X, Y, **p), rel=1e-12)
    g = _loop_gradients(X, Y, **p)
    for k in KEYS:
        np.testing.assert_allclose(value(TASK, f"zero_grad_{k}"), g[k], rtol=1e-10, atol=1e-15, err_msg=k)
    # W2 and b2 do not move any pre-activation of the ReLU: finite differences are valid for them
    for k in ("W2", "b2"):
        fd = numerical_gradient(lambda v, k=k: _loss(X, Y, **{**p, k: v}), p[k].copy(), h=1e-6)
        np.testing.assert_allclose(value(TASK, f"zero_grad_{k}"), fd, rtol=1e-7, atol=1e-10, err_msg=k)


def test_zero_point_torch():
    X, Y, p = _batch("zero_point")
    loss, g, _, _ = _torch(X, Y, p)
    assert value(TASK, "zero_loss") == pytest.approx(loss, rel=1e-12)
    for k in KEYS:
        np.testing.assert_allclose(value(TASK, f"zero_grad_{k}"), g[k], rtol=1e-10, atol=1e-15, err_msg=k)


def test_zero_point_erratum_number():
    """The erratum quotes what the document's 'z >= 0' mask gives for dL/dW1[:, 0]."""
    X, Y, p = _batch("zero_point")
    Z1 = X @ p["W1"] + p["b1"]
    _, _, _, ga1 = _torch(X, Y, p)
    wrong = X.T @ (ga1 * (Z1 >= 0))
    np.testing.assert_allclose(wrong[:, 0], [-1.3496, -0.1589], atol=1e-4)
    assert not np.allclose(wrong[:, 0], value(TASK, "zero_grad_W1")[:, 0])


def test_errata_are_complete():
    for name in ("loss", "output_delta", "hidden_grad", "grad_W2", "grad_W1", "grad_b1", "zero_grad_W1"):
        assert set(entry(TASK, name)["erratum"]) == {"document_value", "correct_value", "reason"}
