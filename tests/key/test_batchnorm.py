"""Independent confirmation of every value of autograder/tasks/batchnorm/key.toml.

Forward values: plain NumPy, and torch.nn.functional.batch_norm. Gradients:
float64 central finite differences of the loss with the batch statistics frozen
(the problem's convention), and torch autograd with the statistics detached.
The exact batch-norm gradient: finite differences of the full function and torch
autograd without detaching.
"""

import numpy as np
import pytest

from autograder.grading.gradcheck import numerical_gradient, numerical_gradients
from autograder.tasks.answer_key import entry, raw, value

TASK = "batchnorm"


def exam():
    e = entry(TASK, "exam_batch")
    return e["X"], e["y"], e["W1"], e["b1"], e["W2"], e["b2"], float(e["lr"]), float(e["eps"])


def loss_frozen(X, y, W1, b1, W2, b2, mu, var, eps):
    """Per-example BCE losses with the batch statistics frozen at (mu, var)."""
    hn = (X @ W1.T + b1 - mu) / np.sqrt(var + eps)
    s = (np.maximum(hn, 0.0) @ W2.T + b2).reshape(-1)
    return np.logaddexp(0.0, s) - y * s


def test_every_entry_is_covered():
    covered = {"exam_batch", "first_layer_output", "batch_mean", "batch_variance", "batch_std", "normalized",
               "relu_output", "scores", "probabilities", "dL_ds_per_example", "dW2_per_example",
               "db2_per_example", "dh2_per_example", "dnormalized_per_example", "dh1_per_example_const_stats",
               "dW1_per_example", "db1_per_example", "W1_updated", "b1_updated", "W2_updated", "b2_updated",
               "exact_bn_gradient_exam"}
    assert set(raw(TASK)) == covered
    for name, table in raw(TASK).items():
        assert {"document", "problem", "equation", "verified"} <= set(table), name


def test_exam_batch_is_consistent():
    X, y, W1, b1, W2, b2, lr, eps = exam()
    assert X.shape == (2, 2) and y.shape == (2,) and W1.shape == (2, 2) and b1.shape == (2,)
    assert W2.shape == (1, 2) and b2.shape == (1,) and lr == 1.0 and eps == 0.0


def test_forward_values():
    X, y, W1, b1, W2, b2, lr, eps = exam()
    h1 = X @ W1.T + b1
    mu, var = h1.mean(axis=0), h1.var(axis=0, ddof=0)
    hn = (h1 - mu) / np.sqrt(var + eps)
    h2 = np.maximum(hn, 0.0)
    s = (h2 @ W2.T + b2).reshape(-1)
    p = 1.0 / (1.0 + np.exp(-s))
    np.testing.assert_allclose(value(TASK, "first_layer_output"), h1, atol=1e-15)
    np.testing.assert_allclose(value(TASK, "batch_mean"), mu, atol=1e-15)
    np.testing.assert_allclose(value(TASK, "batch_variance"), var, atol=1e-15)
    np.testing.assert_allclose(value(TASK, "batch_std"), np.sqrt(var), atol=1e-15)
    np.testing.assert_allclose(value(TASK, "normalized"), hn, atol=1e-15)
    np.testing.assert_allclose(value(TASK, "relu_output"), h2, atol=1e-15)
    np.testing.assert_allclose(value(TASK, "scores"), s, atol=1e-15)
    np.testing.assert_allclose(value(TASK, "probabilities"), p, atol=1e-15)


def test_forward_values_torch():
    torch = pytest.importorskip("torch")
    X, y, W1, b1, W2, b2, lr, eps = (torch.tensor(np.asarray(v), dtype=torch.float64) for v in exam())
    h1 = X @ W1.T + b1
    hn = torch.nn.functional.batch_norm(h1, None, None, training=True, eps=1e-12)  # torch refuses eps=0
    s = (torch.relu(hn) @ W2.T + b2).reshape(-1)
    np.testing.assert_allclose(value(TASK, "batch_variance"), h1.var(dim=0, unbiased=False).numpy(), atol=1e-15)
    np.testing.assert_allclose(value(TASK, "normalized"), hn.numpy(), atol=1e-10)
    np.testing.assert_allclose(value(TASK, "probabilities"), torch.sigmoid(s).numpy(), atol=1e-10)


def test_per_example_gradients():
    """Finite differences of each example's loss, statistics frozen at the batch's values."""
    X, y, W1, b1, W2, b2, lr, eps = exam()
    h1 = X @ W1.T + b1
    mu, var = h1.mean(axis=0), h1.var(axis=0)
    for i in range(2):
        def f(W1, b1, W2, b2, i=i):
            return loss_frozen(X, y, W1, b1, W2, b2, mu, var, eps)[i]
        g = numerical_gradients(f, {"W1": W1, "b1": b1, "W2": W2, "b2": b2})
        np.testing.assert_allclose(value(TASK, "dW1_per_example")[i], g["W1"], atol=1e-8)
        np.testing.assert_allclose(value(TASK, "db1_per_example")[i], g["b1"], atol=1e-8)
        np.testing.assert_allclose(value(TASK, "dW2_per_example")[i], g["W2"].reshape(-1), atol=1e-8)
        np.testing.assert_allclose(value(TASK, "db2_per_example")[i], g["b2"][0], atol=1e-8)
        # gradient with respect to h1 of example i, other example fixed, statistics frozen
        def fh(row, i=i):
            Xh = h1.copy()
            Xh[i] = row
            return loss_frozen(Xh, y, np.eye(2), np.zeros(2), W2, b2, mu, var, eps)[i]
        gh = numerical_gradient(fh, h1[i].copy())
        np.testing.assert_allclose(value(TASK, "dh1_per_example_const_stats")[i], gh, atol=1e-8)
        # gradient with respect to the score
        s = (np.maximum((h1 - mu) / np.sqrt(var + eps), 0) @ W2.T + b2).reshape(-1)
        gs = numerical_gradient(lambda t, i=i: np.logaddexp(0.0, t) - y[i] * t, np.array(s[i]))
        np.testing.assert_allclose(value(TASK, "dL_ds_per_example")[i], gs, atol=1e-8)


def test_per_example_gradients_torch():
    torch = pytest.importorskip("torch")
    X, y, W1, b1, W2, b2, lr, eps = (torch.tensor(np.asarray(v), dtype=torch.float64) for v in exam())
    for i in range(2):
        params = [p.clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
        w1, c1, w2, c2 = params
        h1 = X @ w1.T + c1
        mu, var = h1.mean(dim=0).detach(), h1.var(dim=0, unbiased=False).detach()
        h1.retain_grad()
        hn = (h1 - mu) / torch.sqrt(var + eps)
        hn.retain_grad()
        h2 = torch.relu(hn)
        h2.retain_grad()
        s = (h2 @ w2.T + c2).reshape(-1)
        s.retain_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(s[i], y[i])
        loss.backward()
        np.testing.assert_allclose(value(TASK, "dL_ds_per_example")[i], s.grad[i].item(), atol=1e-12)
        np.testing.assert_allclose(value(TASK, "dh2_per_example")[i], h2.grad[i].numpy(), atol=1e-12)
        np.testing.assert_allclose(value(TASK, "dnormalized_per_example")[i], hn.grad[i].numpy(), atol=1e-12)
        np.testing.assert_allclose(value(TASK, "dh1_per_example_const_stats")[i], h1.grad[i].numpy(), atol=1e-12)
        np.testing.assert_allclose(value(TASK, "dW1_per_example")[i], w1.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(value(TASK, "db1_per_example")[i], c1.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(value(TASK, "dW2_per_example")[i], w2.grad.numpy().reshape(-1), atol=1e-12)
        np.testing.assert_allclose(value(TASK, "db2_per_example")[i], c2.grad.item(), atol=1e-12)


def test_updated_parameters():
    """One SGD step on the mean loss, gradients by finite differences with frozen statistics."""
    X, y, W1, b1, W2, b2, lr, eps = exam()
    h1 = X @ W1.T + b1
    mu, var = h1.mean(axis=0), h1.var(axis=0)
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    g = numerical_gradients(lambda **p: np.mean(loss_frozen(X, y, **p, mu=mu, var=var, eps=eps)), params)
    for name in params:
        np.testing.assert_allclose(value(TASK, f"{name}_updated"), params[name] - lr * g[name], atol=1e-8)
    # eq. (36): the average of the per-example gradients
    np.testing.assert_allclose(value(TASK, "W1_updated"),
                               W1 - lr * value(TASK, "dW1_per_example").mean(axis=0), atol=1e-15)


def test_updated_parameters_torch():
    torch = pytest.importorskip("torch")
    X, y, W1, b1, W2, b2, lr, eps = (torch.tensor(np.asarray(v), dtype=torch.float64) for v in exam())
    params = [p.clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
    w1, c1, w2, c2 = params
    h1 = X @ w1.T + c1
    hn = (h1 - h1.mean(dim=0).detach()) / torch.sqrt(h1.var(dim=0, unbiased=False).detach() + eps)
    s = (torch.relu(hn) @ w2.T + c2).reshape(-1)
    torch.nn.functional.binary_cross_entropy_with_logits(s, y).backward()   # mean over the batch
    for name, p in zip(("W1", "b1", "W2", "b2"), params):
        np.testing.assert_allclose(value(TASK, f"{name}_updated"), (p - lr * p.grad).detach().numpy(), atol=1e-12)


def test_exact_gradient_vanishes():
    X, y, W1, b1, W2, b2, lr, eps = exam()
    h1 = X @ W1.T + b1

    def bn(h):
        return (h - h.mean(axis=0)) / np.sqrt(h.var(axis=0) + eps)

    num = numerical_gradient(bn, h1.copy(), value(TASK, "dnormalized_per_example"))
    np.testing.assert_allclose(value(TASK, "exact_bn_gradient_exam"), num, atol=1e-9)


def test_exact_gradient_vanishes_torch():
    torch = pytest.importorskip("torch")
    h1 = torch.tensor(value(TASK, "first_layer_output"), dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.batch_norm(h1, None, None, training=True, eps=1e-12)  # torch refuses eps=0
    out.backward(torch.tensor(value(TASK, "dnormalized_per_example"), dtype=torch.float64))
    np.testing.assert_allclose(value(TASK, "exact_bn_gradient_exam"), h1.grad.numpy(), atol=1e-10)
