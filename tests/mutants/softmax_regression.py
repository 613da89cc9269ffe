_HEAD = "def softmax_regression_step(W, b, x, y, lr=1.0):\n"

MUTANTS = {
    # the document's orientation: dL/dW = outer(x, y_hat - y); with K != D it raises (shape mismatch)
    "transposed_gradient": {
        "cells": {"softmax_regression_step_solution": _HEAD + (
            "    z = W @ x + b\n"
            "    e = np.exp(z - z.max()); p = e / e.sum()\n"
            "    return W - lr * np.outer(x, p - y), b - lr * (p - y)\n")},
        "fails": ["test_document_step", "test_random_gradients", "test_learning_rate", "test_large_logits", "test_shapes_and_inputs"],
    },
    # softmax without subtracting the maximum
    "unstable_softmax": {
        "cells": {"softmax_regression_step_solution": _HEAD + (
            "    z = W @ x + b\n"
            "    p = np.exp(z) / np.sum(np.exp(z))\n"
            "    return W - lr * np.outer(p - y, x), b - lr * (p - y)\n")},
        "fails": ["test_large_logits"],
    },
    # gradient ascent: wrong sign of the step
    "gradient_ascent": {
        "cells": {"softmax_regression_step_solution": _HEAD + (
            "    z = W @ x + b\n"
            "    e = np.exp(z - z.max()); p = e / e.sum()\n"
            "    return W + lr * np.outer(p - y, x), b + lr * (p - y)\n")},
        "fails": ["test_document_step", "test_random_gradients", "test_learning_rate", "test_large_logits", "test_shapes_and_inputs"],
    },
    # the learning rate is ignored (always a unit step)
    "ignores_lr": {
        "cells": {"softmax_regression_step_solution": _HEAD + (
            "    z = W @ x + b\n"
            "    e = np.exp(z - z.max()); p = e / e.sum()\n"
            "    return W - np.outer(p - y, x), b - (p - y)\n")},
        "fails": ["test_learning_rate", "test_shapes_and_inputs"],
    },
    # element-wise sigmoid instead of the softmax (the note's derivation)
    "sigmoid_not_softmax": {
        "cells": {"softmax_regression_step_solution": _HEAD + (
            "    z = W @ x + b\n"
            "    p = np.exp(-np.logaddexp(0.0, -z))\n"
            "    return W - lr * np.outer(p - y, x), b - lr * (p - y)\n")},
        "fails": ["test_document_step", "test_random_gradients", "test_learning_rate", "test_large_logits", "test_shapes_and_inputs"],
    },
}
