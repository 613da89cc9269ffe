MUTANTS = {
    # a true convolution: the kernel is flipped before sliding it over x
    "true_convolution": {
        "cells": {
            "conv1d_solution": (
                "def conv1d(x, w):\n"
                "    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)\n"
                "    return w[:, ::-1] @ sliding_window_view(x, w.shape[1]).T\n"
            ),
        },
        "fails": ["test_conv1d"],
    },
    # the weight gradient correlates x with the reversed dout; the exam's dout rows are
    # palindromes ([1, 0, 1], [1, 1, 1]), so only random data expose it
    "backward_weights_flipped_dout": {
        "cells": {
            "conv1d_backward_weights_solution": (
                "def conv1d_backward_weights(x, dout):\n"
                "    x, dout = np.asarray(x, dtype=float), np.asarray(dout, dtype=float)\n"
                "    k = x.shape[0] - dout.shape[1] + 1\n"
                "    return dout[:, ::-1] @ sliding_window_view(x, k)\n"
            ),
        },
        "fails": ["test_backward_weights"],
    },
    # the input gradient pads dout only on the right: the right length, the wrong positions
    "backward_inputs_one_sided_padding": {
        "cells": {
            "conv1d_backward_inputs_solution": (
                "def conv1d_backward_inputs(w, dout, L):\n"
                "    w, dout = np.asarray(w, dtype=float), np.asarray(dout, dtype=float)\n"
                "    k = w.shape[1]\n"
                "    padded = np.pad(dout, ((0, 0), (0, 2 * (k - 1))))\n"
                "    return np.einsum('clj,cj->l', sliding_window_view(padded, k, axis=1), w[:, ::-1])\n"
            ),
        },
        "fails": ["test_backward_inputs"],
    },
    # the input gradient as a valid correlation (no padding at all): too short
    "backward_inputs_no_padding": {
        "cells": {
            "conv1d_backward_inputs_solution": (
                "def conv1d_backward_inputs(w, dout, L):\n"
                "    w, dout = np.asarray(w, dtype=float), np.asarray(dout, dtype=float)\n"
                "    k = w.shape[1]\n"
                "    return np.einsum('clj,cj->l', sliding_window_view(dout, k, axis=1), w[:, ::-1])\n"
            ),
        },
        "fails": ["test_backward_inputs"],
    },
}

_MODEL = (
    "def conv_model_forward_backward(x, y, w, W2, b2):\n"
    "    W2, b2 = np.asarray(W2, dtype=float), np.asarray(b2, dtype=float)\n"
    "    h1 = conv1d(x, w)\n"
    "    h3 = np.maximum(h1, 0.0).{pool}(axis=1)\n"
    "    s = W2 @ h3 + b2\n"
    "    e = np.exp(s - s.max())\n"
    "    p = e / e.sum()\n"
    "    ds = p.copy()\n"
    "    ds[{label}] -= 1.0\n"
    "    n = h1.shape[1]\n"
    "    dh2 = np.repeat((W2.T @ ds)[:, None] {scale}, n, axis=1)\n"
    "    dh1 = dh2{mask}\n"
    "    return p, conv1d_backward_weights(x, dh1)\n"
)
_OK = {"pool": "mean", "label": "y", "scale": "/ n", "mask": " * (h1 > 0)"}

MUTANTS.update({
    # global pooling as a sum (forward and backward consistently)
    "sum_pooling": {
        "cells": {"conv_model_solution": _MODEL.format(**{**_OK, "pool": "sum", "scale": ""})},
        "fails": ["test_model_exam", "test_model_random"],
    },
    # the ReLU mask is forgotten in the backward pass
    "no_relu_mask": {
        "cells": {"conv_model_solution": _MODEL.format(**{**_OK, "mask": ""})},
        "fails": ["test_model_exam", "test_model_random"],
    },
    # the class index is read as 1-based
    "one_based_label": {
        "cells": {"conv_model_solution": _MODEL.format(**{**_OK, "label": "y - 1"})},
        "fails": ["test_model_exam", "test_model_random"],
    },
})
