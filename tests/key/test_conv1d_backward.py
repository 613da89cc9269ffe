"""Independent confirmation of every value in autograder/tasks/conv1d_backward/key.toml.

Forward values from explicit Python loops; every gradient from float64 central
differences of the loss seen as a function of that intermediate; the whole chain
again from torch.nn.functional.conv1d + autograd (float64).
"""

import math

import numpy as np
import pytest

from autograder.grading.gradcheck import numerical_gradient
from autograder.tasks.answer_key import entry, raw, value

TASK = "conv1d_backward"


def _inputs():
    W2, b2 = value(TASK, "logits_exam", "W2"), value(TASK, "logits_exam", "b2")
    return (value(TASK, "exam_input", "x"), value(TASK, "exam_input", "w"), W2, b2,
            int(value(TASK, "dL_ds_exam", "y")))


def loop_correlate(x, w):
    K, k = w.shape
    n = len(x) - k + 1
    out = np.zeros((K, n))
    for c in range(K):
        for i in range(n):
            out[c, i] = sum(w[c, j] * x[i + j] for j in range(k))
    return out


# the loss as a function of each intermediate, the rest of the model held fixed
def loss_from_s(s, y):
    return -(s[y] - math.log(sum(math.exp(v) for v in s)))


def loss_from_h3(h3, W2, b2, y):
    return loss_from_s(W2 @ h3 + b2, y)


def loss_from_h2(h2, W2, b2, y):
    return loss_from_h3(h2.mean(axis=1), W2, b2, y)


def loss_from_h1(h1, W2, b2, y):
    return loss_from_h2(np.maximum(h1, 0.0), W2, b2, y)


def loss_from_w(w, x, W2, b2, y):
    return loss_from_h1(loop_correlate(x, w), W2, b2, y)


def test_inputs_are_the_exams():
    x, w, W2, b2, y = _inputs()
    ln2 = math.log(2.0)
    assert np.array_equal(x, [4, -1, 2, 0, 1])
    assert np.array_equal(w, [[1, 0, -1], [1, 1, -1]])
    assert np.allclose(W2, ln2 * np.eye(2), rtol=0, atol=1e-15)
    assert np.allclose(b2, [0, ln2], rtol=0, atol=1e-15)
    assert y == 1


def test_forward_intermediates():
    x, w, W2, b2, y = _inputs()
    h1 = loop_correlate(x, w)
    assert np.allclose(h1, value(TASK, "conv_forward_exam"), rtol=0, atol=1e-12)
    assert np.allclose(h1, [np.correlate(x, kk, mode="valid") for kk in w], rtol=0, atol=1e-12)
    h2 = np.maximum(h1, 0.0)
    assert np.allclose(h2, value(TASK, "relu_exam"), rtol=0, atol=1e-12)
    h3 = h2.mean(axis=1)
    assert np.allclose(h3, value(TASK, "pool_exam"), rtol=0, atol=1e-12)
    s = W2 @ h3 + b2
    assert np.allclose(s, value(TASK, "logits_exam"), rtol=1e-14, atol=0)
    assert np.allclose(s, [math.log(2), math.log(4)], rtol=1e-14, atol=0)
    p = np.exp(s) / np.exp(s).sum()
    assert np.allclose(p, value(TASK, "probs_exam"), rtol=1e-14, atol=0)


def test_backward_intermediates():
    x, w, W2, b2, y = _inputs()
    h1 = loop_correlate(x, w)
    h2 = np.maximum(h1, 0.0)
    h3 = h2.mean(axis=1)
    s = W2 @ h3 + b2
    checks = [
        (numerical_gradient(lambda v: loss_from_s(v, y), s.copy()), "dL_ds_exam"),
        (numerical_gradient(lambda v: loss_from_h3(v, W2, b2, y), h3.copy()), "dL_dh3_exam"),
        (numerical_gradient(lambda v: loss_from_h2(v, W2, b2, y), h2.copy()), "dL_dh2_exam"),
        (numerical_gradient(lambda v: loss_from_h1(v, W2, b2, y), h1.copy()), "dL_dh1_exam"),
    ]
    for num, name in checks:
        assert np.allclose(num, value(TASK, name), rtol=1e-7, atol=1e-10), name


def test_kernel_gradient_fd():
    x, w, W2, b2, y = _inputs()
    num = numerical_gradient(lambda v: loss_from_w(v, x, W2, b2, y), w.copy())
    expected = value(TASK, "dL_dw_exam")
    assert np.allclose(num, expected, rtol=1e-7, atol=1e-10)
    ln2 = math.log(2.0)
    assert np.allclose(expected, ln2 / 9 * np.array([[6, -1, 3], [-5, -1, -3]]), rtol=1e-14, atol=0)


def test_kernel_gradient_torch():
    torch = pytest.importorskip("torch")
    x, w, W2, b2, y = _inputs()
    xt = torch.tensor(x, dtype=torch.float64).view(1, 1, -1)
    wt = torch.tensor(w, dtype=torch.float64).unsqueeze(1).requires_grad_(True)   # (K, 1, k)
    h1 = torch.nn.functional.conv1d(xt, wt)[0]                                    # (K, n)
    h1.retain_grad()
    h2 = torch.relu(h1)
    h2.retain_grad()
    h3 = h2.mean(dim=1)
    h3.retain_grad()
    s = torch.tensor(W2, dtype=torch.float64) @ h3 + torch.tensor(b2, dtype=torch.float64)
    s.retain_grad()
    p = torch.softmax(s, dim=0)
    loss = torch.nn.functional.cross_entropy(s.unsqueeze(0), torch.tensor([y]))
    loss.backward()
    tol = dict(rtol=1e-12, atol=1e-14)
    assert np.allclose(h1.detach().numpy(), value(TASK, "conv_forward_exam"), **tol)
    assert np.allclose(h2.detach().numpy(), value(TASK, "relu_exam"), **tol)
    assert np.allclose(h3.detach().numpy(), value(TASK, "pool_exam"), **tol)
    assert np.allclose(s.detach().numpy(), value(TASK, "logits_exam"), **tol)
    assert np.allclose(p.detach().numpy(), value(TASK, "probs_exam"), **tol)
    assert np.allclose(s.grad.numpy(), value(TASK, "dL_ds_exam"), **tol)
    assert np.allclose(h3.grad.numpy(), value(TASK, "dL_dh3_exam"), **tol)
    assert np.allclose(h2.grad.numpy(), value(TASK, "dL_dh2_exam"), **tol)
    assert np.allclose(h1.grad.numpy(), value(TASK, "dL_dh1_exam"), **tol)
    assert np.allclose(wt.grad[:, 0].numpy(), value(TASK, "dL_dw_exam"), **tol)


def test_entries_name_their_source():
    names = set(raw(TASK))
    assert names == {"exam_input", "conv_forward_exam", "relu_exam", "pool_exam", "logits_exam", "probs_exam",
                     "dL_ds_exam", "dL_dh3_exam", "dL_dh2_exam", "dL_dh1_exam", "dL_dw_exam"}
    for name in names:
        e = entry(TASK, name)
        assert e["document"] == "dl1-final-exam-2022-solutions.hr.md"
        assert e["problem"] == "Zadatak 3" and e["equation"] and e["verified"]
