_HEAD = (
    "def two_layer_gradients(X, Y, W1, b1, W2, b2):\n"
    "    n = X.shape[0]\n"
    "    Z1 = X @ W1 + b1\n"
    "    A1 = np.maximum(Z1, 0.0)\n"
    "    Z2 = A1 @ W2 + b2\n"
    "    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))\n"
    "    P = E / E.sum(axis=1, keepdims=True)\n"
)


def _mutant(dz2="(P - Y) / n", da1="dZ2 @ W2.T", mask="(Z1 > 0)", dw1="X.T @ dZ1", softmax=None):
    head = _HEAD if softmax is None else _HEAD.replace(
        "    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))\n", softmax)
    return head + (
        f"    dZ2 = {dz2}\n"
        f"    dA1 = {da1}\n"
        f"    dZ1 = dA1 * {mask}\n"
        f"    return {{'W1': {dw1}, 'b1': dZ1.sum(0), 'W2': A1.T @ dZ2, 'b2': dZ2.sum(0)}}\n"
    )


CELL = "two_layer_gradients_solution"

MUTANTS = {
    # back through the second layer without transposing W2 (the document's w1/w2 mix-up):
    # (N, C) @ (H, C) raises unless H == C
    "w2_not_transposed": {"cells": {CELL: _mutant(da1="dZ2 @ W2")}, "fails": ["test_random_batches", "test_verification_point", "test_relu_at_zero", "test_batch_mean", "test_shapes_and_inputs", "test_stable_softmax"]},
    # the document's ReLU'(0) = 1 (mask z >= 0)
    "mask_z_geq_0": {"cells": {CELL: _mutant(mask="(Z1 >= 0)")}, "fails": ["test_relu_at_zero"]},
    # no batch averaging: gradient of the summed loss
    "sum_not_mean": {"cells": {CELL: _mutant(dz2="P - Y")}, "fails": ["test_random_batches", "test_verification_point", "test_relu_at_zero", "test_batch_mean", "test_stable_softmax", "test_shapes_and_inputs"]},
    # the document's final dL/dw1: the ReLU mask is lost in dW1 (b1 still masked)
    "dW1_without_mask": {"cells": {CELL: _mutant(dw1="X.T @ dA1")}, "fails": ["test_random_batches", "test_verification_point", "test_relu_at_zero", "test_stable_softmax", "test_batch_mean", "test_shapes_and_inputs"]},
    # softmax without subtracting the row maximum
    "unstable_softmax": {"cells": {CELL: _mutant(softmax="    E = np.exp(Z2)\n")}, "fails": ["test_stable_softmax"]},
}
