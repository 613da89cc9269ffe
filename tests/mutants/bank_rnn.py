MUTANTS = {
    # the flag only copies the previous flag: it is never reset when the account goes into the red
    "flag_never_reset": {
        "cells": {
            "weights_solution": (
                "W_hh = np.eye(3)\n"
                "W_xh = np.array([[1.0, -1.0], [0.0, 0.0], [0.0, 0.0]])\n"
                "b_h = np.zeros(3)\n"
            ),
        },
        "fails": ["test_exam_states", "test_bank_behaviour"],
    },
    # the overdraft is forgotten after one step (W_hh[1, 1] = 0)
    "forgets_overdraft": {
        "cells": {
            "weights_solution": (
                "W_hh = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, -1.0, 0.0]])\n"
                "W_xh = np.array([[1.0, -1.0], [0.0, 0.0], [1.0, -1.0]])\n"
                "b_h = np.zeros(3)\n"
            ),
        },
        "fails": ["test_exam_states", "test_bank_behaviour", "test_weight_shapes"],
    },
    # deposits and withdrawals swapped
    "swapped_columns": {
        "cells": {
            "weights_solution": (
                "W_hh = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, -1.0, 0.0]])\n"
                "W_xh = np.array([[-1.0, 1.0], [0.0, 0.0], [-1.0, 1.0]])\n"
                "b_h = np.zeros(3)\n"
            ),
        },
        "fails": ["test_exam_states", "test_bank_behaviour", "test_weight_shapes"],
    },
    # returns h_0 .. h_{T-1} instead of h_1 .. h_T
    "off_by_one": {
        "cells": {
            "rnn_forward_solution": (
                "def rnn_forward(h0, xs, W_hh, W_xh, b_h):\n"
                "    h = np.asarray(h0, dtype=np.float64)\n"
                "    states = []\n"
                "    for x in xs:\n"
                "        states.append(h)\n"
                "        h = np.maximum(0.0, W_hh @ h + W_xh @ x + b_h)\n"
                "    return np.array(states)\n"
            ),
        },
        "fails": ["test_rnn_forward"],
    },
    # no ReLU
    "no_relu": {
        "cells": {
            "rnn_forward_solution": (
                "def rnn_forward(h0, xs, W_hh, W_xh, b_h):\n"
                "    h = np.asarray(h0, dtype=np.float64)\n"
                "    states = []\n"
                "    for x in xs:\n"
                "        h = W_hh @ h + W_xh @ x + b_h\n"
                "        states.append(h)\n"
                "    return np.array(states)\n"
            ),
        },
        "fails": ["test_rnn_forward"],
    },
    # updates the caller's h0 in place
    "modifies_h0": {
        "cells": {
            "rnn_forward_solution": (
                "def rnn_forward(h0, xs, W_hh, W_xh, b_h):\n"
                "    h = h0\n"
                "    states = []\n"
                "    for x in xs:\n"
                "        h[:] = np.maximum(0.0, W_hh @ h + W_xh @ x + b_h)\n"
                "        states.append(h.copy())\n"
                "    return np.array(states)\n"
            ),
        },
        "fails": ["test_rnn_forward"],
    },
}
