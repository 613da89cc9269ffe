_TEMPLATE = (
    "def shared_logit_forward_backward(x, t, w1, b1, w2, b2):\n"
    "    t = np.asarray(t, dtype=float)\n"
    "    s1 = w1 * x + b1\n"
    "    h1 = max(s1, 0.0)\n"
    "    s2 = w2 * h1 + b2\n"
    "    s = np.array([s1, s2], dtype=float)\n"
    "{softmax}"
    "    loss = float(-np.sum(t * np.log(y)))\n"
    "    ds = {ds}\n"
    "    dh1 = ds[1] * w2\n"
    "    relu_grad = 1.0 if s1 {cmp} 0 else 0.0\n"
    "    ds1 = {ds1}\n"
    "    return loss, {{'w1': float(ds1 * x), 'b1': float(ds1), 'w2': float(ds[1] * h1), 'b2': float(ds[1])}}\n"
)
_STABLE = "    e = np.exp(s - s.max())\n    y = e / e.sum()\n"
_NAIVE = "    e = np.exp(s)\n    y = e / e.sum()\n"
_OK = {"softmax": _STABLE, "ds": "y - t", "cmp": ">", "ds1": "ds[0] + dh1 * relu_grad"}


def _mutant(**change):
    return {"shared_logit_solution": _TEMPLATE.format(**{**_OK, **change})}


MUTANTS = {
    # s1 only as the hidden pre-activation: the direct softmax path is dropped
    "no_direct_path": {
        "cells": _mutant(ds1="dh1 * relu_grad"),
        "fails": ["test_document_point", "test_random_points", "test_second_class", "test_relu_kink",
                  "test_large_logits"],
    },
    # s1 only as a logit: the path through h1 and s2 is dropped (right wherever ReLU'(s1) = 0)
    "no_hidden_path": {
        "cells": _mutant(ds1="ds[0]"),
        "fails": ["test_document_point", "test_random_points", "test_second_class", "test_large_logits"],
    },
    # ReLU'(0) = 1
    "relu_grad_one_at_zero": {
        "cells": _mutant(cmp=">="),
        "fails": ["test_relu_kink"],
    },
    # softmax without the max shift: exp overflows to inf and the loss becomes nan
    "unstable_softmax": {
        "cells": _mutant(softmax=_NAIVE),
        "fails": ["test_large_logits"],
    },
    # dL/ds = t - y
    "sign_error_ds": {
        "cells": _mutant(ds="t - y"),
        "fails": ["test_document_point", "test_random_points", "test_second_class", "test_relu_kink",
                  "test_large_logits"],
    },
}
