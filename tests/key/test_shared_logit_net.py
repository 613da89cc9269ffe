"""Independent confirmation of every value in autograder/tasks/shared_logit_net/key.toml.

Forward values by direct evaluation; every derivative by float64 central differences
of a loss written here from scratch (not the task module's reference), and again by
torch autograd in float64.
"""

import math

import numpy as np
import pytest

from autograder.grading.gradcheck import numerical_gradient
from autograder.tasks.answer_key import entry, raw, value

TASK = "shared_logit_net"
NAMES = ("w1", "b1", "w2", "b2")


def _point():
    e = entry(TASK, "document_point")
    return e["x"], e["t"], {n: e[n] for n in NAMES}


def ce_from_logits(s, t):
    s = np.asarray(s, dtype=np.float64)
    lse = np.logaddexp(s[0], s[1])
    return float(-np.sum(t * (s - lse)))


def loss_from_params(x, t, w1, b1, w2, b2):
    s1 = w1 * x + b1
    return ce_from_logits([s1, w2 * max(s1, 0.0) + b2], t)


def test_point_is_the_documents():
    x, t, p = _point()
    assert x == 1.0 and np.array_equal(t, [1.0, 0.0])
    assert p == {"w1": 1.0, "b1": 0.0, "w2": 1.0, "b2": 0.0}


def test_forward_document():
    x, t, p = _point()
    s1 = p["w1"] * x + p["b1"]
    h1 = max(s1, 0.0)
    s2 = p["w2"] * h1 + p["b2"]
    assert (s1, h1, s2) == (value(TASK, "forward_document", "s1"), value(TASK, "forward_document", "h1"),
                            value(TASK, "forward_document", "s2"))
    y = np.exp([s1, s2]) / np.exp([s1, s2]).sum()
    assert np.allclose(y, value(TASK, "softmax_document"), rtol=1e-15, atol=0)


def test_softmax_gradient():
    # s1 and s2 as independent inputs of -log softmax: the softmax-local gradient
    x, t, p = _point()
    s = np.array([value(TASK, "forward_document", "s1"), value(TASK, "forward_document", "s2")])
    num = numerical_gradient(lambda v: ce_from_logits(v, t), s.copy())
    assert np.allclose(num, value(TASK, "dL_ds_direct_document"), rtol=1e-8, atol=1e-10)


def test_hidden_and_total_s1():
    x, t, p = _point()
    s1 = value(TASK, "forward_document", "s1")
    # h1 perturbed with s1 held fixed (h1 only feeds s2)
    dh1 = numerical_gradient(lambda h: ce_from_logits([s1, p["w2"] * h[0] + p["b2"]], t), np.array([1.0]))
    assert np.allclose(dh1, value(TASK, "dL_dh1_document"), rtol=1e-8, atol=1e-10)
    # s1 perturbed through both of its uses
    ds1 = numerical_gradient(lambda v: ce_from_logits([v[0], p["w2"] * max(v[0], 0.0) + p["b2"]], t),
                             np.array([s1]))
    assert np.allclose(ds1, value(TASK, "dL_ds1_total_document"), rtol=0, atol=1e-10)
    # and the document's local part differs from it: the erratum is real
    assert not np.isclose(value(TASK, "dL_ds_direct_document")[0], value(TASK, "dL_ds1_total_document"))


def test_loss_and_gradients():
    x, t, p = _point()
    loss = loss_from_params(x, t, **p)
    assert math.isclose(loss, value(TASK, "loss_document"), rel_tol=1e-15)
    assert math.isclose(loss, math.log(2.0), rel_tol=1e-15)
    for n in NAMES:
        def f(v, n=n):
            return loss_from_params(x, t, **{**p, n: float(v[0])})
        num = numerical_gradient(f, np.array([p[n]]))
        assert np.allclose(num, value(TASK, f"dL_d{n}_document"), rtol=1e-8, atol=1e-10), n


def test_loss_and_gradients_torch():
    torch = pytest.importorskip("torch")
    x, t, p = _point()
    params = {n: torch.tensor(p[n], dtype=torch.float64, requires_grad=True) for n in NAMES}
    s1 = params["w1"] * x + params["b1"]
    s1.retain_grad()
    h1 = torch.relu(s1)
    h1.retain_grad()
    s2 = params["w2"] * h1 + params["b2"]
    s = torch.stack([s1, s2])
    loss = -(torch.tensor(t, dtype=torch.float64) * torch.log_softmax(s, dim=0)).sum()
    loss.backward()
    assert math.isclose(loss.item(), value(TASK, "loss_document"), rel_tol=1e-14)
    assert np.allclose(torch.softmax(s, 0).detach().numpy(), value(TASK, "softmax_document"), rtol=1e-14)
    assert math.isclose(h1.grad.item(), value(TASK, "dL_dh1_document"), rel_tol=1e-14)
    assert abs(s1.grad.item() - value(TASK, "dL_ds1_total_document")) < 1e-14
    for n in NAMES:
        assert abs(params[n].grad.item() - value(TASK, f"dL_d{n}_document")) < 1e-14, n
    # the softmax-local gradient: logits as a leaf
    leaf = torch.tensor([s1.item(), s2.item()], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.cross_entropy(leaf.unsqueeze(0), torch.tensor([0])).backward()
    assert np.allclose(leaf.grad.numpy(), value(TASK, "dL_ds_direct_document"), rtol=1e-14)


def test_entries_name_their_source():
    names = set(raw(TASK))
    assert names == {"document_point", "forward_document", "softmax_document", "dL_ds_direct_document",
                     "dL_dh1_document", "dL_ds1_total_document", "loss_document", "dL_dw1_document",
                     "dL_db1_document", "dL_dw2_document", "dL_db2_document"}
    for name in names:
        e = entry(TASK, name)
        assert e["document"] == "tiny-net-shared-logit.hr.txt" and e["equation"] and e["verified"]
    err = entry(TASK, "dL_ds1_total_document")["erratum"]
    assert err["document_value"] and err["correct_value"] and err["reason"]
