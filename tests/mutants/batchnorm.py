_FORWARD_UNBIASED = '''
def batchnorm_forward(h, eps=1e-5):
    h = np.asarray(h, dtype=np.float64)
    mu = h.mean(axis=0)
    var = h.var(axis=0, ddof=1)            # unbiased: divides by N - 1
    inv_std = 1.0 / np.sqrt(var + eps)
    out = (h - mu) * inv_std
    return out, (out, inv_std)
'''

_FORWARD_EPS_OUTSIDE = '''
def batchnorm_forward(h, eps=1e-5):
    h = np.asarray(h, dtype=np.float64)
    mu = h.mean(axis=0)
    var = h.var(axis=0)
    inv_std = 1.0 / (np.sqrt(var) + eps)   # eps outside the square root
    out = (h - mu) * inv_std
    return out, (out, inv_std)
'''

_BACKWARD_CONST = '''
def batchnorm_backward(dout, cache):
    _, inv_std = cache
    return np.asarray(dout, dtype=np.float64) * inv_std
'''

_CONST_DIVIDES = '''
def batchnorm_backward_const_stats(dout, cache):
    _, inv_std = cache
    return np.asarray(dout, dtype=np.float64) / inv_std   # multiplies by sigma instead of dividing
'''

_TRAIN_STEP_BODY = '''
def train_step(X, y, W1, b1, W2, b2, lr=1.0, eps=1e-5):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    n = X.shape[0]
    h1 = X @ W1.T + b1
    hn, cache = batchnorm_forward(h1, eps)
    h2 = np.maximum(hn, 0.0)
    s = (h2 @ W2.T + b2).reshape(-1)
    p = np.exp(-np.logaddexp(0.0, -s))
    ds = (p - y) / SCALE
    dW2 = (ds @ h2).reshape(1, -1)
    db2 = np.array([ds.sum()])
    dhn = np.outer(ds, W2.reshape(-1)) * (hn > 0)
    dh1 = batchnorm_backward_const_stats(dhn, cache)
    dW1 = dh1.T @ X
    db1 = dh1.sum(axis=0)
    UPDATE
'''

_TRAIN_STEP_SUM = _TRAIN_STEP_BODY.replace("SCALE", "1.0").replace(
    "UPDATE", "return W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2")

_TRAIN_STEP_IN_PLACE = _TRAIN_STEP_BODY.replace("SCALE", "n").replace(
    "UPDATE", "W1 -= lr * dW1\n    return W1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2")

MUTANTS = {
    # the unbiased variance (N - 1 in the denominator); the backward passes and train_step reuse this
    # forward but are judged against what it computes, so the mistake costs the forward's points only
    "unbiased_variance": {
        "cells": {"batchnorm_forward_solution": _FORWARD_UNBIASED},
        "fails": ["test_batchnorm_forward"],
    },
    # sqrt(var) + eps instead of sqrt(var + eps): visible for small variances or large eps; like the unbiased
    # variance it costs the forward's points only
    "eps_outside_sqrt": {
        "cells": {"batchnorm_forward_solution": _FORWARD_EPS_OUTSIDE},
        "fails": ["test_batchnorm_forward"],
    },
    # the constant-statistics backward multiplies by sigma; train_step reuses it and keeps its points
    "const_stats_times_sigma": {
        "cells": {"batchnorm_backward_const_stats_solution": _CONST_DIVIDES},
        "fails": ["test_batchnorm_backward_const_stats"],
    },
    # the constant-statistics gradient where the exact one is asked
    "const_stats_as_exact": {
        "cells": {"batchnorm_backward_solution": _BACKWARD_CONST},
        "fails": ["test_batchnorm_backward"],
    },
    # the gradient of the summed (not averaged) loss
    "train_step_sum": {
        "cells": {"train_step_solution": _TRAIN_STEP_SUM},
        "fails": ["test_train_step_exam", "test_train_step_random"],
    },
    # W1 updated in place (right values, but the caller's W1 changes)
    "train_step_in_place": {
        "cells": {"train_step_solution": _TRAIN_STEP_IN_PLACE},
        "fails": ["test_train_step_random"],
    },
}
