_HEAD = (
    "def stable_sigmoid(t):\n"
    "    return np.exp(-np.logaddexp(0.0, -np.asarray(t, dtype=float)))\n"
    "\n"
    "def sigmoid_mlp_gradients(x, y, W, b1, U, b2):\n"
    "    x = np.asarray(x, dtype=float)\n"
    "    X = np.atleast_2d(x)\n"
    "    Y = np.atleast_1d(np.asarray(y, dtype=float))\n"
    "    n = X.shape[0]\n"
    "    Hid = stable_sigmoid(X @ W.T + b1)\n"
    "    d1 = (stable_sigmoid(Hid @ U[0] + b2[0]) - Y) / NORM\n"
)
_TAIL = (
    "    return {'W': GW, 'b1': d2.sum(0), 'U': (d1 @ Hid)[None, :], 'b2': np.array([d1.sum()])}\n"
)


def _mutant(d2, norm="n", gw="d2.T @ X"):
    return _HEAD.replace("NORM", norm) + f"    d2 = {d2}\n" + _TAIL.replace("GW", gw)


MUTANTS = {
    # the document's eq. (6): sigma'(z1) in every row of dL/dW (and so in every entry of delta2)
    "sigma_prime_of_z1": {
        "cells": {"sigmoid_mlp_gradients_solution": _mutant("d1[:, None] * U[0] * (Hid[:, :1] * (1 - Hid[:, :1]))")},
        "fails": ["test_single_example", "test_batch_mean", "test_large_theta", "test_shapes_and_inputs"],
    },
    # the factor sigma'(z) forgotten in delta2
    "missing_sigma_prime": {
        "cells": {"sigmoid_mlp_gradients_solution": _mutant("d1[:, None] * U[0] + 0 * Hid")},
        "fails": ["test_single_example", "test_batch_mean", "test_large_theta", "test_shapes_and_inputs"],
    },
    # batch: gradient of the summed loss instead of the mean
    "batch_sum": {
        "cells": {"sigmoid_mlp_gradients_solution": _mutant("d1[:, None] * U[0] * Hid * (1 - Hid)", norm="1.0")},
        "fails": ["test_batch_mean", "test_large_theta", "test_shapes_and_inputs"],
    },
    # transposed weight gradient: outer(x, delta2), shape (3, 4)
    "transposed_dW": {
        "cells": {"sigmoid_mlp_gradients_solution": _mutant("d1[:, None] * U[0] * Hid * (1 - Hid)", gw="X.T @ d2")},
        "fails": ["test_single_example", "test_batch_mean", "test_shapes_and_inputs", "test_large_theta"],
    },
    # the unsimplified chain dL/dy_hat * dy_hat/dtheta: nan once the output saturates
    "unsimplified_delta1": {
        "cells": {"sigmoid_mlp_gradients_solution": _HEAD.replace(
            "    d1 = (stable_sigmoid(Hid @ U[0] + b2[0]) - Y) / NORM\n",
            "    yh = stable_sigmoid(Hid @ U[0] + b2[0])\n"
            "    d1 = (-Y / yh + (1 - Y) / (1 - yh)) * yh * (1 - yh) / n\n")
            + "    d2 = d1[:, None] * U[0] * Hid * (1 - Hid)\n" + _TAIL.replace("GW", "d2.T @ X")},
        "fails": ["test_large_theta"],
    },
}
