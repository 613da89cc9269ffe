"""One mistake costs once: each function is graded on its own (issue 13).

Where a check of one function depends on another of the student's functions (a
backward pass on the student's forward cache, a training step or a model that
calls the student's building blocks, behaviour checks that run the student's
weights), the check uses the reference for the other function or, where the
contract makes that impossible, judges consistency with the student's own
function. So a mutant of one function loses the points of that function's own
tests and nothing else: in the hidden checks and in the notebook's public tests.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings

import pytest

from autograder.course import notebooks

from .helpers import mutants_of, run_checks_locally, source_notebooks

os.environ.setdefault("MPLBACKEND", "Agg")

#: task -> solution cell -> the checks (test cells) that grade that function
OWN = {
    "batchnorm": {
        "batchnorm_forward_solution": {"test_batchnorm_forward"},
        "batchnorm_backward_const_stats_solution": {"test_batchnorm_backward_const_stats"},
        "batchnorm_backward_solution": {"test_batchnorm_backward"},
        "train_step_solution": {"test_train_step_exam", "test_train_step_random"},
    },
    "conv1d_backward": {
        "conv1d_solution": {"test_conv1d"},
        "conv1d_backward_weights_solution": {"test_backward_weights"},
        "conv1d_backward_inputs_solution": {"test_backward_inputs"},
        "conv_model_solution": {"test_model_exam", "test_model_random"},
    },
    "bank_rnn": {
        "weights_solution": {"test_weight_shapes", "test_exam_states", "test_bank_behaviour"},
        "rnn_forward_solution": {"test_rnn_forward"},
    },
    "softplus_layer": {
        # one class: forward at extreme inputs, shapes and dtypes; backward (extreme inputs included)
        "softplus_solution": {"test_forward_values", "test_extreme_inputs", "test_shapes_and_dtypes",
                              "test_backward"},
        "softplus_jacobian_solution": {"test_jacobian"},
    },
    "retrieval_ap": {
        "l1_similarity_solution": {"test_l1_similarity"},
        "precision_recall_solution": {"test_precision_recall"},
        "average_precision_solution": {"test_average_precision", "test_average_precision_ties"},
    },
    "lstm_params": {
        "rnn_param_count_solution": {"test_rnn_param_count"},
        "lstm_param_count_solution": {"test_lstm_single_layer", "test_lstm_layers_and_biases", "test_exam_answer"},
    },
}

#: a mutant of one function, per function of every task with dependent functions (task, mutant, cell)
ONE_PER_FUNCTION = [
    ("batchnorm", "unbiased_variance", "batchnorm_forward_solution"),
    ("batchnorm", "eps_outside_sqrt", "batchnorm_forward_solution"),
    ("batchnorm", "const_stats_times_sigma", "batchnorm_backward_const_stats_solution"),
    ("batchnorm", "const_stats_as_exact", "batchnorm_backward_solution"),
    ("batchnorm", "train_step_sum", "train_step_solution"),
    ("conv1d_backward", "true_convolution", "conv1d_solution"),
    ("conv1d_backward", "backward_weights_flipped_dout", "conv1d_backward_weights_solution"),
    ("conv1d_backward", "backward_inputs_no_padding", "conv1d_backward_inputs_solution"),
    ("conv1d_backward", "sum_pooling", "conv_model_solution"),
    ("bank_rnn", "flag_never_reset", "weights_solution"),
    ("bank_rnn", "no_relu", "rnn_forward_solution"),
    ("bank_rnn", "off_by_one", "rnn_forward_solution"),
    ("bank_rnn", "modifies_h0", "rnn_forward_solution"),
    ("softplus_layer", "unstable_backward", "softplus_solution"),
    ("softplus_layer", "jacobian_vector", "softplus_jacobian_solution"),
]


def _points(task) -> dict[str, int]:
    nb = notebooks.read(source_notebooks()[task])
    return {notebooks.nbgrader_meta(c)["grade_id"]: int(notebooks.nbgrader_meta(c)["points"])
            for c in nb.cells if notebooks.is_test_cell(c)}


def _hidden_failures(task, replace) -> set[str]:
    results = run_checks_locally(task, notebooks.read(source_notebooks()[task]), replace=replace)
    return {k for k, v in results.items() if v}


def run_public_tests(task, replace=None) -> dict[str, str | None]:
    """Run the notebook top to bottom with only the public part of each test cell.

    Returns test cell grade_id -> None (passed) or the assertion's message / exception type.
    """
    replace = replace or {}
    ns = {"__name__": "__main__"}
    results = {}
    for cell in notebooks.read(source_notebooks()[task]).cells:
        if cell.cell_type != "code":
            continue
        gid = notebooks.nbgrader_meta(cell).get("grade_id")
        test = notebooks.is_test_cell(cell)
        src = notebooks.strip_hidden(cell.source) if test else replace.get(gid, cell.source)
        src = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(src, f"<{gid}>", "exec"), ns)
        except Exception as exc:  # noqa: BLE001 - a failing student cell or public test is the scenario
            if test:
                results[gid] = str(exc) if isinstance(exc, AssertionError) else type(exc).__name__
            continue
        if test:
            results[gid] = None
    return results


def test_every_mutant_of_one_function_is_listed_with_that_function():
    for task, mutant, cell in ONE_PER_FUNCTION:
        assert list(mutants_of(task)[mutant]["cells"]) == [cell], (task, mutant)
    # every function of a task with dependent functions has a mutant here
    for task in ("batchnorm", "conv1d_backward", "bank_rnn"):
        assert {c for t, _, c in ONE_PER_FUNCTION if t == task} == set(OWN[task]), task


@pytest.mark.parametrize("task,mutant,cell", ONE_PER_FUNCTION)
def test_a_mistake_in_one_function_costs_only_that_functions_checks(task, mutant, cell):
    failed = _hidden_failures(task, mutants_of(task)[mutant]["cells"])
    assert failed, f"{task}/{mutant} passes every check"
    assert failed <= OWN[task][cell], (
        f"{task}/{mutant} changes only {cell} but also fails {sorted(failed - OWN[task][cell])}")


@pytest.mark.parametrize("task,mutant,cell", ONE_PER_FUNCTION)
def test_public_tests_fail_only_for_the_function_at_fault(task, mutant, cell):
    results = run_public_tests(task, mutants_of(task)[mutant]["cells"])
    failed = {k for k, v in results.items() if v}
    assert failed <= OWN[task][cell], (
        f"the public tests of {task} with mutant {mutant} fail {sorted(failed - OWN[task][cell])} too: {results}")


@pytest.mark.parametrize("task", sorted(OWN))
def test_the_solution_passes_every_public_test(task):
    results = run_public_tests(task)
    assert results and all(v is None for v in results.values()), results


def test_the_unbiased_variance_costs_the_forwards_points_only():
    # the instructor experiment: h.var(axis=0) -> h.var(axis=0, ddof=1) scored 0/10
    points = _points("batchnorm")
    failed = _hidden_failures("batchnorm", mutants_of("batchnorm")["unbiased_variance"]["cells"])
    assert failed == {"test_batchnorm_forward"}
    score = sum(p for gid, p in points.items() if gid not in failed and gid.startswith("test_"))
    assert (score, sum(p for gid, p in points.items() if gid.startswith("test_"))) == (8, 10)


@pytest.mark.parametrize("mutant,message", [
    ("unbiased_variance", "your variance looks like the unbiased estimator"),
    ("eps_outside_sqrt", "eps seems to be added to the standard deviation"),
])
def test_batchnorm_public_test_names_the_forward_misconception(mutant, message):
    results = run_public_tests("batchnorm", mutants_of("batchnorm")[mutant]["cells"])
    assert {k for k, v in results.items() if v} == {"test_batchnorm_forward"}
    assert results["test_batchnorm_forward"].startswith(message)


@pytest.mark.parametrize("mutant,test,message", [
    ("document_code", "test_extreme_inputs", "softplus overflows for large inputs"),
    ("unstable_backward", "test_backward", "the derivative overflows for large inputs"),
])
def test_softplus_public_tests_name_the_overflow(mutant, test, message):
    results = run_public_tests("softplus_layer", mutants_of("softplus_layer")[mutant]["cells"])
    assert results[test].startswith(message)


_BN_FWD_UNBIASED = mutants_of("batchnorm")["unbiased_variance"]["cells"]["batchnorm_forward_solution"]


@pytest.mark.parametrize("cell,wrong,check", [
    # a wrong backward stays wrong on the student's own (wrong) forward: consistency is no free pass
    ("batchnorm_backward_solution", mutants_of("batchnorm")["const_stats_as_exact"]["cells"]
     ["batchnorm_backward_solution"], "test_batchnorm_backward"),
    ("batchnorm_backward_const_stats_solution", mutants_of("batchnorm")["const_stats_times_sigma"]["cells"]
     ["batchnorm_backward_const_stats_solution"], "test_batchnorm_backward_const_stats"),
    ("train_step_solution", mutants_of("batchnorm")["train_step_sum"]["cells"]["train_step_solution"],
     "test_train_step_random"),
])
def test_two_wrong_functions_each_lose_their_points(cell, wrong, check):
    failed = _hidden_failures("batchnorm", {"batchnorm_forward_solution": _BN_FWD_UNBIASED, cell: wrong})
    assert "test_batchnorm_forward" in failed and check in failed


def test_a_backward_right_only_for_a_forward_that_is_not_a_normalisation_fails():
    # a forward that is not an affine map per feature (it squares h) leaves nothing to be consistent with:
    # the backward passes are judged by the reference alone, and the solution's backward fails them
    forward = ("def batchnorm_forward(h, eps=1e-5):\n"
               "    h = np.asarray(h, dtype=np.float64) ** 2\n"
               "    mu, var = h.mean(axis=0), h.var(axis=0)\n"
               "    inv_std = 1.0 / np.sqrt(var + eps)\n"
               "    out = (h - mu) * inv_std\n"
               "    return out, (out, inv_std)\n")
    failed = _hidden_failures("batchnorm", {"batchnorm_forward_solution": forward})
    assert {"test_batchnorm_forward", "test_batchnorm_backward_const_stats", "test_batchnorm_backward"} <= failed


def test_a_model_with_a_wrong_building_block_and_its_own_mistake_fails():
    conv = mutants_of("conv1d_backward")
    failed = _hidden_failures("conv1d_backward", {**conv["true_convolution"]["cells"], **conv["sum_pooling"]["cells"]})
    assert failed == {"test_conv1d", "test_model_exam", "test_model_random"}


def test_no_free_pass_for_a_backward_consistent_with_a_forward_that_does_not_normalise():
    # the identity "forward" and a backward that returns dout are consistent with each other, but the
    # forward normalises nothing: consistency counts only for a centred output of about unit scale
    cells = {"batchnorm_forward_solution": "def batchnorm_forward(h, eps=1e-5):\n"
                                           "    h = np.asarray(h, dtype=np.float64)\n    return h.copy(), (h,)\n",
             "batchnorm_backward_const_stats_solution": "def batchnorm_backward_const_stats(dout, cache):\n"
                                                        "    return np.asarray(dout, dtype=np.float64)\n"}
    failed = _hidden_failures("batchnorm", cells)
    assert {"test_batchnorm_forward", "test_batchnorm_backward_const_stats"} <= failed


_SOFTPLUS_STABLE_BACKWARD = (
    "    def backward_inputs(self, grads):\n"
    "        x = self.inputs\n"
    "        e = np.exp(-np.abs(x))\n"
    "        return np.asarray(grads) * np.where(x >= 0, 1 / (1 + e), e / (1 + e))\n"
    "    def backward_params(self, grads):\n"
    "        return None\n")


@pytest.mark.parametrize("cells,expected", [
    # the forward overflows, the backward (on the cached inputs) is stable: only the forward's extreme check
    ({"softplus_solution": "class Softplus(Layer):\n    has_params = False\n"
                           "    def forward(self, inputs):\n"
                           "        self.inputs = np.array(inputs, dtype=np.float64)\n"
                           "        return np.log(1 + np.exp(self.inputs))\n" + _SOFTPLUS_STABLE_BACKWARD},
     {"test_extreme_inputs"}),
    (mutants_of("softplus_layer")["unstable_backward"]["cells"], {"test_backward"}),
    (mutants_of("softplus_layer")["backward_ignores_grads"]["cells"], {"test_backward"}),
    (mutants_of("softplus_layer")["stale_cache"]["cells"], {"test_backward"}),
])
def test_softplus_forward_and_backward_are_graded_apart(cells, expected):
    assert _hidden_failures("softplus_layer", cells) == expected
    assert {k for k, v in run_public_tests("softplus_layer", cells).items() if v} <= expected


@pytest.mark.parametrize("task,mutant,test,message", [
    ("bank_rnn", "off_by_one", "test_rnn_forward", "rnn_forward returns the states before each step"),
    ("bank_rnn", "no_relu", "test_rnn_forward", "rnn_forward applies no ReLU"),
    ("lstm_params", "every_layer_reads_input", "test_lstm_layers_and_biases",
     "the second LSTM layer reads the first layer's hidden state"),
    ("lstm_params", "three_gates", "test_lstm_single_layer", "the count has three weight blocks"),
    ("lstm_params", "exam_formula", "test_lstm_single_layer", "this is the exam document's own count"),
    ("lstm_params", "rnn_two_biases", "test_rnn_param_count", "the RNN is counted with two bias vectors"),
])
def test_public_tests_name_what_public_inputs_reveal(task, mutant, test, message):
    results = run_public_tests(task, mutants_of(task)[mutant]["cells"])
    assert (results[test] or "").startswith(message), results
