"""Independent confirmation of every value in autograder/tasks/softplus_layer/key.toml.

Softplus and sigmoid are evaluated with 60-digit decimal arithmetic (standard
library), derivatives with float64 central finite differences, and again with
torch when it is installed.
"""

from decimal import Decimal, localcontext

import numpy as np
import pytest

from autograder.grading.checking import rel_error
from autograder.grading.gradcheck import numerical_gradient
from autograder.tasks.answer_key import entry

TASK = "softplus_layer"


def exact_softplus(x: float) -> float:
    with localcontext() as ctx:
        ctx.prec = 60
        return float((1 + Decimal(x).exp()).ln())


def exact_sigmoid(x: float) -> float:
    with localcontext() as ctx:
        ctx.prec = 60
        return float(1 / (1 + (-Decimal(x)).exp()))


def stable_softplus(x):
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def test_forward_document():
    e = entry(TASK, "forward_document")
    expected = np.array([exact_softplus(x) for x in e["input"]])
    np.testing.assert_allclose(e["value"], expected, rtol=1e-15, atol=0)


def test_jacobian_document():
    e = entry(TASK, "jacobian_document")
    x = e["input"]
    assert e["value"].shape == (x.size, x.size)
    np.testing.assert_allclose(e["value"], np.diag([exact_sigmoid(v) for v in x]), rtol=1e-15, atol=0)
    fd = np.array([numerical_gradient(stable_softplus, x.copy(), dout=np.eye(x.size)[i]) for i in range(x.size)])
    assert rel_error(e["value"], fd) < 1e-8
    np.testing.assert_allclose(e["value"], fd, atol=1e-9)


def test_forward_extreme():
    e = entry(TASK, "forward_extreme")
    expected = np.array([exact_softplus(x) for x in e["input"]])
    np.testing.assert_allclose(e["value"], expected, rtol=1e-15, atol=0)
    np.testing.assert_allclose(e["value"], np.logaddexp(0.0, e["input"]), rtol=1e-15, atol=0)
    assert e["value"][0] == 0.0  # 5.1e-435 underflows in float64
    # the erratum: the document's formula overflows at x = 1000
    with np.errstate(over="ignore"):
        assert np.isinf(np.log(np.exp(1000.0) + 1))


def test_backward_extreme():
    e = entry(TASK, "backward_extreme")
    x = e["input"]
    expected = np.array([exact_sigmoid(v) for v in x])
    np.testing.assert_allclose(e["value"], expected, rtol=1e-15, atol=0)
    # float64 central differences of the stable softplus, one element at a time
    fd = numerical_gradient(stable_softplus, x.copy(), dout=np.ones_like(x))
    np.testing.assert_allclose(e["value"], fd, rtol=1e-6, atol=1e-9)
    # the erratum: e^x / (1 + e^x) taken literally is nan at x = 1000
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(np.exp(1000.0) / (1 + np.exp(1000.0)))


def test_key_with_torch():
    torch = pytest.importorskip("torch")
    for name in ("forward_document", "forward_extreme"):
        e = entry(TASK, name)
        x = torch.tensor(e["input"], dtype=torch.float64)
        np.testing.assert_allclose(e["value"], torch.nn.functional.softplus(x).numpy(),
                                   rtol=1e-14, atol=0)
    e = entry(TASK, "backward_extreme")
    x = torch.tensor(e["input"], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.softplus(x).sum().backward()
    np.testing.assert_allclose(e["value"], x.grad.numpy(), rtol=1e-14, atol=0)
    e = entry(TASK, "jacobian_document")
    x = torch.tensor(e["input"], dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda t: torch.nn.functional.softplus(t), x)
    np.testing.assert_allclose(e["value"], J.numpy(), rtol=1e-14, atol=0)
