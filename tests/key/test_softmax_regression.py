"""Independent confirmation of autograder/tasks/softmax_regression/key.toml.

numpy + float64 central differences of the categorical cross-entropy (written
here with scipy-free log-sum-exp), and torch (float64) where available.
"""

import numpy as np
import pytest

from autograder.grading.gradcheck import numerical_gradient
from autograder.tasks.answer_key import entry, value

TASK = "softmax_regression"


def _example():
    return (value(TASK, "example", k) for k in ("W", "b", "x", "y"))


def _loss_from_logits(z, y):
    m = np.max(z)
    return float(m + np.log(np.sum(np.exp(z - m))) - y @ z)


def _loss(W, b, x, y):
    return _loss_from_logits(W @ x + b, y)


def _fd_grads():
    W, b, x, y = _example()
    gW = numerical_gradient(lambda w: _loss(w, b, x, y), W.copy())
    gb = numerical_gradient(lambda v: _loss(W, v, x, y), b.copy())
    gz = numerical_gradient(lambda z: _loss_from_logits(z, y), W @ x + b)
    return gW, gb, gz


def test_example_is_the_documents():
    W, b, x, y = _example()
    np.testing.assert_array_equal(W, [[0.1, 0.2, -0.3], [-0.6, -0.5, 2.0], [-0.2, 0.5, -3.0]])
    np.testing.assert_array_equal(b, [0.1, 0.1, 0.1])
    np.testing.assert_array_equal(x, [1.0, 3.0, 0.0])
    np.testing.assert_array_equal(y, [0.0, 1.0, 0.0])
    assert value(TASK, "example", "lr") == 1.0


def test_logits():
    W, b, x, y = _example()
    z = np.array([sum(W[k, j] * x[j] for j in range(3)) + b[k] for k in range(3)])
    np.testing.assert_allclose(value(TASK, "logits"), z, rtol=1e-12, atol=1e-12)


def test_logits_torch():
    torch = pytest.importorskip("torch")
    W, b, x, y = _example()
    z = torch.nn.functional.linear(torch.tensor(x), torch.tensor(W), torch.tensor(b)).numpy()
    np.testing.assert_allclose(value(TASK, "logits"), z, rtol=1e-12, atol=1e-12)


def test_probabilities():
    W, b, x, y = _example()
    z = W @ x + b
    p = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(value(TASK, "probabilities"), p, rtol=1e-12)
    assert abs(value(TASK, "probabilities").sum() - 1.0) < 1e-12
    # the document's (0.34, 0.21, 0.63) is wrong in its second entry
    assert abs(value(TASK, "probabilities")[1] - 0.21) > 0.1


def test_probabilities_torch():
    torch = pytest.importorskip("torch")
    W, b, x, y = _example()
    p = torch.softmax(torch.tensor(W) @ torch.tensor(x) + torch.tensor(b), dim=0).numpy()
    np.testing.assert_allclose(value(TASK, "probabilities"), p, rtol=1e-12)


def test_loss():
    W, b, x, y = _example()
    z = W @ x + b
    assert value(TASK, "loss") == pytest.approx(-np.log(np.exp(z[1]) / np.exp(z).sum()), rel=1e-12)


def test_loss_torch():
    torch = pytest.importorskip("torch")
    W, b, x, y = _example()
    z = torch.tensor(W) @ torch.tensor(x) + torch.tensor(b)
    ce = torch.nn.functional.cross_entropy(z[None], torch.tensor([1]))
    assert value(TASK, "loss") == pytest.approx(float(ce), rel=1e-12)


def test_gradients():
    gW, gb, gz = _fd_grads()
    np.testing.assert_allclose(value(TASK, "error_signal"), gz, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(value(TASK, "grad_W"), gW, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(value(TASK, "grad_b"), gb, rtol=1e-7, atol=1e-9)
    # the document's orientation is the transpose, which differs here
    assert not np.allclose(value(TASK, "grad_W").T, gW, atol=1e-3)


def test_gradients_torch():
    torch = pytest.importorskip("torch")
    W, b, x, y = _example()
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    z = Wt @ torch.tensor(x) + bt
    z.retain_grad()
    loss = torch.nn.functional.cross_entropy(z[None], torch.tensor([1]))
    loss.backward()
    np.testing.assert_allclose(value(TASK, "grad_W"), Wt.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(value(TASK, "grad_b"), bt.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(value(TASK, "error_signal"), z.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_update():
    W, b, x, y = _example()
    gW, gb, _ = _fd_grads()
    np.testing.assert_allclose(value(TASK, "W_new"), W - gW, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(value(TASK, "b_new"), b - gb, rtol=1e-7, atol=1e-9)


def test_update_torch():
    torch = pytest.importorskip("torch")
    W, b, x, y = _example()
    Wt, bt = torch.nn.Parameter(torch.tensor(W)), torch.nn.Parameter(torch.tensor(b))
    opt = torch.optim.SGD([Wt, bt], lr=float(value(TASK, "example", "lr")))
    opt.zero_grad()
    torch.nn.functional.cross_entropy((Wt @ torch.tensor(x) + bt)[None], torch.tensor([1])).backward()
    opt.step()
    np.testing.assert_allclose(value(TASK, "W_new"), Wt.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(value(TASK, "b_new"), bt.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_every_erratum_is_complete():
    for name in ("probabilities", "loss", "error_signal", "grad_W", "grad_b", "W_new"):
        err = entry(TASK, name)["erratum"]
        assert set(err) == {"document_value", "correct_value", "reason"}
