MUTANTS = {
    # the exam's own formula: one layer only, bias of size 2
    "exam_formula": {
        "cells": {
            "lstm_param_count_solution": (
                "def lstm_param_count(input_size, hidden_size, num_layers=1, bias_vectors=1):\n"
                "    return 4 * (hidden_size * hidden_size + input_size * hidden_size + input_size)\n"
            ),
        },
        "fails": ["test_lstm_single_layer", "test_lstm_layers_and_biases", "test_exam_answer"],
    },
    # stacked layers all read the original input
    "every_layer_reads_input": {
        "cells": {
            "lstm_param_count_solution": (
                "def lstm_param_count(input_size, hidden_size, num_layers=1, bias_vectors=1):\n"
                "    return num_layers * 4 * (hidden_size * input_size + hidden_size ** 2 + bias_vectors * hidden_size)\n"
            ),
        },
        "fails": ["test_lstm_layers_and_biases", "test_exam_answer"],
    },
    # three gates instead of four (a GRU count)
    "three_gates": {
        "cells": {
            "lstm_param_count_solution": (
                "def lstm_param_count(input_size, hidden_size, num_layers=1, bias_vectors=1):\n"
                "    total = 0\n"
                "    for layer in range(num_layers):\n"
                "        i = input_size if layer == 0 else hidden_size\n"
                "        total += 3 * (hidden_size * i + hidden_size ** 2 + bias_vectors * hidden_size)\n"
                "    return total\n"
            ),
        },
        "fails": ["test_lstm_single_layer", "test_lstm_layers_and_biases", "test_exam_answer"],
    },
    # the RNN counted with PyTorch's two biases
    "rnn_two_biases": {
        "cells": {
            "rnn_param_count_solution": (
                "def rnn_param_count(input_size, hidden_size):\n"
                "    return hidden_size * (input_size + hidden_size + 2)\n"
            ),
        },
        "fails": ["test_rnn_param_count"],
    },
}
