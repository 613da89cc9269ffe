"""Hints (issue 13): the misconception catalogues and the engine that names a known wrong approach.

Fast claims run in-process (the student's namespace answers :mod:`autograder.bridge.protocol`
requests directly, as in ``tests/helpers.run_checks_locally``); one end-to-end run grades a few
students through ``autograder grade`` on a private copy of the scratch course.

* every mutant of every task is named by its misconception on at least one failed test;
* the solution, and a noisy-but-correct variant (prints and warnings in every call), match no
  probe at all, even when every probe is forced to run;
* wrong code outside the catalogue (two per task, below) gets no hint;
* two mistakes in one function: both named or neither;
* a hint holds no number of the answer key, no hidden-test line, and no value at all.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import shutil
import warnings

import numpy as np
import pytest

from autograder import report
from autograder.bridge import protocol
from autograder.commands import grade
from autograder.course import notebooks
from autograder.grading import hints
from autograder.grading.checking import checks_of
from autograder.sandbox import SessionDead
from autograder.tasks import load

from .conftest import write_student
from .helpers import execute_cells, mutants_of, run_checks_locally, source_notebooks

TASKS = sorted(source_notebooks())
DESIGN_TASKS = {"softplus_layer", "batchnorm", "retrieval_ap", "bank_rnn", "lstm_params"}
MUTANTS = [(task, name) for task in TASKS for name in mutants_of(task)]


def catalogue(task: str) -> list:
    return importlib.import_module(f"autograder.tasks.{task}.misconceptions").MISCONCEPTIONS


# -- running in-process ---------------------------------------------------------------

def namespace(task: str, replace: dict | None = None) -> dict:
    """The task's solution notebook executed in-process, ``replace``: grade_id -> source."""
    return execute_cells(notebooks.read(source_notebooks()[task]), replace)


def hints_for(task: str, replace: dict | None = None, failed=None) -> dict:
    """grade_id -> hint ids; ``failed`` None: the checks that really fail, else the given ones."""
    if failed is None:
        nb = notebooks.read(source_notebooks()[task])
        failed = [k for k, v in run_checks_locally(task, nb, replace=replace).items() if v]
    ns = namespace(task, replace)
    try:
        found = hints.search(lambda request: protocol.serve(ns, request), catalogue(task), failed, task)
    finally:
        protocol.reset()
    return {gid: [h["id"] for h in hs] for gid, hs in found.items()}


def matched_probes(ns: dict, task: str) -> list:
    """Every probe of the task run against ``ns``: the ids that matched (no resolution)."""
    out = []
    for m in catalogue(task):
        student = hints.Student(lambda request: protocol.serve(ns, request), seed=hints.seed_for("hints", task, m.id))
        try:
            with np.errstate(all="ignore"):
                if m.probe(student, student.rng) is True:
                    out.append(m.id)
        except Exception:  # noqa: BLE001 - raising is no match
            pass
    protocol.reset()
    return out


def noisy(ns: dict) -> dict:
    """Every function and method the student defined also prints, warns and writes to stderr."""
    import sys
    import types

    def loud(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            print("debugging", args[:1])
            sys.stderr.write("noise\n")
            warnings.warn("a warning from honest code", stacklevel=2)
            return fn(*args, **kwargs)
        return wrapper

    for name, obj in list(ns.items()):
        if isinstance(obj, types.FunctionType) and obj.__module__ in (None, "__main__") and not name.startswith("_"):
            ns[name] = loud(obj)
        elif isinstance(obj, type) and obj.__module__ == "__main__":
            for attr, member in list(vars(obj).items()):
                if isinstance(member, types.FunctionType) and not attr.startswith("__"):
                    setattr(obj, attr, loud(member))
    return ns


# -- the catalogues -----------------------------------------------------------------------

@pytest.mark.parametrize("task", TASKS)
def test_catalogue_is_sound_and_large_enough(task):
    cat = catalogue(task)
    where = f"autograder/tasks/{task}/misconceptions.py"
    assert hints.validate(cat, checks_of(load(task))) == [], f"{where}: fix these entries"
    want = 6 if task in DESIGN_TASKS else 4
    assert len(cat) >= want, f"{where} has {len(cat)} misconception(s), the suite wants at least {want}"
    assert any(not m.mutants for m in cat), f"{where}: add a usual mistake that no mutant makes (beyond the mutants)"


@pytest.mark.parametrize("task", TASKS)
def test_every_mutant_maps_to_the_catalogue_and_back(task):
    """One source of truth: every mutant has a misconception, every named mutant exists."""
    cat = catalogue(task)
    named = {mutant for m in cat for mutant in m.mutants}
    assert sorted(set(mutants_of(task)) - named) == []
    assert sorted(named - set(mutants_of(task))) == []
    for mutant, spec in mutants_of(task).items():
        concerned = {c for m in cat if mutant in m.mutants for c in m.checks}
        assert sorted(set(spec["fails"]) - concerned) == [], mutant  # every test it fails can carry its hint


def test_hint_texts_leak_nothing():
    from .test_security import _hidden_material

    material = _hidden_material()
    assert len(material) > 50
    for task in TASKS:
        for m in catalogue(task):
            assert [x for x in material if x in m.text] == [], (task, m.id)
            # no number but a 0 or 1 of a formula (digits inside names such as W2 or s1 are names)
            assert not re.search(r"(?<![A-Za-z_])[2-9]|\d\d|\d[.,]\d", m.text), (task, m.id)


# -- every mutant gets its hint -------------------------------------------------------------

@pytest.mark.parametrize("task,mutant", MUTANTS)
def test_mutant_is_named_on_a_failed_test(task, mutant):
    expected = {m.id for m in catalogue(task) if mutant in m.mutants}
    found = hints_for(task, mutants_of(task)[mutant]["cells"])
    assert set(found) <= set(mutants_of(task)[mutant]["fails"])  # hints only on failed tests
    named = {i for ids in found.values() for i in ids}
    assert named & expected, found
    assert named <= expected, found  # and nothing else of the catalogue


# -- correct code gets none ------------------------------------------------------------------

@pytest.mark.parametrize("task", TASKS)
def test_solution_matches_no_probe_even_when_forced(task):
    assert matched_probes(namespace(task), task) == []


@pytest.mark.parametrize("task", TASKS)
def test_noisy_solution_matches_no_probe(task):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert matched_probes(noisy(namespace(task)), task) == []


@pytest.mark.parametrize("task", TASKS)
def test_search_on_correct_code_names_nothing(task):
    assert hints_for(task, failed=list(checks_of(load(task)))) == {}


# -- unknown wrong code gets none -----------------------------------------------------------------

_BN_FWD = '''
def batchnorm_forward(h, eps=1e-5):
    h = np.asarray(h, dtype=np.float64)
    mu = h.mean(axis=0)
    var = h.var(axis=0{ddof})
    inv_std = 1.0 / {denominator}
    out = (h - mu) * inv_std
    return out, (out, inv_std)
'''

OUTSIDE = {
    "softplus_layer": [
        {"softplus_solution": "class Softplus(Layer):\n    has_params = False\n"
                              "    def forward(self, x):\n        self.x = np.asarray(x, dtype=float)\n"
                              "        return np.maximum(self.x, 0.0)\n"
                              "    def backward_inputs(self, g):\n        return g * (self.x > 0)\n"
                              "    def backward_params(self, g):\n        return None\n"},
        {"softplus_jacobian_solution": "def softplus_jacobian(x):\n    x = np.asarray(x, dtype=float)\n"
                                       "    return np.diag(0.5 + 0.25 * x)\n"},
    ],
    "batchnorm": [
        {"batchnorm_forward_solution": _BN_FWD.format(ddof="", denominator="(var + eps)")},  # no square root
        {"batchnorm_backward_solution": "def batchnorm_backward(dout, cache):\n    xhat, inv_std = cache\n"
                                        "    return np.asarray(dout, dtype=float) * inv_std - dout.mean(axis=0)\n"},
    ],
    "retrieval_ap": [
        {"l1_similarity_solution": "def l1_similarity(query, X):\n"
                                   "    return np.exp(-np.abs(np.asarray(X) - np.asarray(query)).sum(axis=1))\n"},
        {"average_precision_solution": "def average_precision(similarities, relevant):\n"
                                       "    p, r = precision_recall(similarities, relevant)\n"
                                       "    return float(p[-1])\n"},
    ],
    "bank_rnn": [
        {"rnn_forward_solution": "def rnn_forward(h0, xs, W_hh, W_xh, b_h):\n"
                                 "    h = np.asarray(h0, dtype=float)\n    out = []\n"
                                 "    for x in xs:\n        h = np.tanh(W_hh @ h + W_xh @ x + b_h)\n"
                                 "        out.append(h)\n    return np.array(out)\n"},
        {"weights_solution": "W_hh = np.eye(3) * 0.5\nW_xh = np.ones((3, 2))\nb_h = np.ones(3)\n"},
    ],
    "lstm_params": [
        {"lstm_param_count_solution": "def lstm_param_count(input_size, hidden_size, num_layers=1, bias_vectors=1):\n"
                                      "    return 5 * num_layers * (input_size + hidden_size) * hidden_size\n"},
        {"rnn_param_count_solution": "def rnn_param_count(input_size, hidden_size):\n"
                                     "    return (input_size + 1) * hidden_size\n"},
    ],
    "conv1d_backward": [
        {"conv1d_solution": "def conv1d(x, w):\n    x, w = np.asarray(x, float), np.asarray(w, float)\n"
                            "    return w @ sliding_window_view(x, w.shape[1]).T + 1.0\n"},
        {"conv1d_backward_inputs_solution": "def conv1d_backward_inputs(w, dout, L):\n    return np.ones(L)\n"},
    ],
    "shared_logit_net": [
        {"shared_logit_solution": "def shared_logit_forward_backward(x, t, w1, b1, w2, b2):\n"
                                  "    return 0.5, {'w1': 0.1, 'b1': 0.2, 'w2': 0.3, 'b2': 0.4}\n"},
        {"shared_logit_solution": "def shared_logit_forward_backward(x, t, w1, b1, w2, b2):\n"
                                  "    s = np.array([w1 * x + b1, w2 * x + b2])\n"
                                  "    y = np.exp(s - s.max()); y = y / y.sum()\n"
                                  "    d = y - t\n"
                                  "    return float(-np.sum(t * np.log(y))), {'w1': d[0] * x, 'b1': d[0],"
                                  " 'w2': d[1] * x, 'b2': d[1]}\n"},
    ],
    "sigmoid_mlp": [
        {"sigmoid_mlp_gradients_solution": "def sigmoid_mlp_gradients(x, y, W, b1, U, b2):\n"
                                           "    return {'W': W * 0.1, 'b1': b1 * 0.1, 'U': U * 0.1, 'b2': b2 * 0.1}\n"},
        {"sigmoid_mlp_gradients_solution": "def sigmoid_mlp_gradients(x, y, W, b1, U, b2):\n"
                                           "    X = np.atleast_2d(x); Y = np.atleast_1d(y)\n"
                                           "    H = np.tanh(X @ W.T + b1)\n"
                                           "    d1 = (1 / (1 + np.exp(-(H @ U[0] + b2[0]))) - Y) / len(X)\n"
                                           "    d2 = d1[:, None] * U[0] * (1 - H ** 2)\n"
                                           "    return {'W': d2.T @ X, 'b1': d2.sum(0), 'U': (d1 @ H)[None, :],"
                                           " 'b2': np.array([d1.sum()])}\n"},
    ],
    "softmax_regression": [
        {"softmax_regression_step_solution": "def softmax_regression_step(W, b, x, y, lr=1.0):\n"
                                             "    return W - lr * 0.01, b - lr * 0.01\n"},
        {"softmax_regression_step_solution": "def softmax_regression_step(W, b, x, y, lr=1.0):\n"
                                             "    z = W @ x + b\n    e = np.exp(z - z.max()); p = e / e.sum()\n"
                                             "    return W - lr * np.outer(p - y, x) * 2, b - lr * (p - y)\n"},
    ],
    "relu_softmax_mlp": [
        {"two_layer_gradients_solution": "def two_layer_gradients(X, Y, W1, b1, W2, b2):\n"
                                         "    return {'W1': 0 * W1, 'b1': 0 * b1, 'W2': 0 * W2, 'b2': 0 * b2}\n"},
        {"two_layer_gradients_solution": "def two_layer_gradients(X, Y, W1, b1, W2, b2):\n"
                                         "    n = X.shape[0]\n    Z1 = X @ W1 + b1\n    A1 = np.tanh(Z1)\n"
                                         "    Z2 = A1 @ W2 + b2\n    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))\n"
                                         "    dZ2 = (E / E.sum(axis=1, keepdims=True) - Y) / n\n"
                                         "    dZ1 = (dZ2 @ W2.T) * (1 - A1 ** 2)\n"
                                         "    return {'W1': X.T @ dZ1, 'b1': dZ1.sum(0), 'W2': A1.T @ dZ2,"
                                         " 'b2': dZ2.sum(0)}\n"},
    ],
}
OUTSIDE_CASES = [(task, i) for task in TASKS for i in range(len(OUTSIDE.get(task, ())))]


def test_two_outside_implementations_per_task():
    short = [task for task in TASKS if len(OUTSIDE.get(task, ())) < 2]
    assert short == [], (f"add to OUTSIDE in tests/test_hints.py two wrong implementations of {short} that no "
                         "misconception of the task explains (they must get no hint)")
    assert sorted(OUTSIDE) == TASKS, f"OUTSIDE names tasks that do not exist: {sorted(set(OUTSIDE) - set(TASKS))}"


@pytest.mark.parametrize("task,index", OUTSIDE_CASES)
def test_wrong_code_outside_the_catalogue_gets_no_hint(task, index):
    replace = OUTSIDE[task][index]
    results = run_checks_locally(task, notebooks.read(source_notebooks()[task]), replace=replace)
    assert any(results.values())  # it is wrong ...
    assert hints_for(task, replace) == {}  # ... in no known way


# -- two mistakes in one function ---------------------------------------------------------------------

_SR = ("def softmax_regression_step(W, b, x, y, lr=1.0):\n    z = W @ x + b\n"
       "    p = np.exp(z) / np.sum(np.exp(z))\n    return W + lr * np.outer(p - y, x), b + lr * (p - y)\n")

COMBINED = {
    # unbiased variance AND eps outside the root: neither reference fits, so neither is named
    "batchnorm": ({"batchnorm_forward_solution": _BN_FWD.format(ddof=", ddof=1", denominator="(np.sqrt(var) + eps)")},
                  set()),
    # an unstable softmax AND gradient ascent: two independent mistakes, both named
    "softmax_regression": ({"softmax_regression_step_solution": _SR}, {"unstable_softmax", "gradient_ascent"}),
    # the exam's bias AND three gates: neither named
    "lstm_params": ({"lstm_param_count_solution": "def lstm_param_count(input_size, hidden_size, num_layers=1, "
                                                  "bias_vectors=1):\n    return 3 * (hidden_size * hidden_size + "
                                                  "input_size * hidden_size + input_size)\n"}, set()),
}


@pytest.mark.parametrize("task", sorted(COMBINED))
def test_two_mistakes_in_one_function_are_both_named_or_neither(task):
    replace, expected = COMBINED[task]
    results = run_checks_locally(task, notebooks.read(source_notebooks()[task]), replace=replace)
    assert any(results.values())
    named = {i for ids in hints_for(task, replace).values() for i in ids}
    assert named == expected


# -- the engine alone ------------------------------------------------------------------------------------

def _m(id_, probe, checks=("a",), **kw):
    return hints.Misconception(id=id_, text=f"hint {id_}", checks=checks, probe=probe, **kw)


def test_like_needs_a_match_of_the_wrong_reference_and_a_mismatch_of_the_right_one():
    assert hints.like(np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    assert not hints.like(np.array([1.0, 3.0]), np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    assert not hints.like(np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([1.0, 2.0]))  # cannot tell
    assert not hints.like(np.array([1.0, 2.0, 0.0]), np.array([1.0, 2.0]), np.array([1.0, 3.0]))  # shape
    assert hints.like(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), np.array([0.5, 1.0]))  # NaN where it overflows
    assert not hints.like("text", np.array([1.0]), np.array([2.0]))
    assert hints.like({"a": np.ones(2), "b": 1.0}, {"a": np.ones(2), "b": 1.0}, {"a": np.ones(2), "b": 2.0})


def test_resolve_drops_overridden_and_rival_matches():
    cat = [_m("general", None), _m("specific", None, overrides=("general",)),
           _m("x", None, group="g"), _m("y", None, group="g"), _m("z", None, group="h")]
    assert hints.resolve({"general", "specific"}, cat) == {"specific"}
    assert hints.resolve({"x", "y", "z"}, cat) == {"z"}  # two rivals: neither
    assert hints.resolve({"x", "z"}, cat) == {"x", "z"}


def test_search_runs_only_for_failed_checks_and_treats_errors_as_no_match():
    calls = []

    def probe(name, result):
        def p(student, rng):
            calls.append(name)
            if isinstance(result, BaseException):
                raise result
            return result
        return p

    cat = [_m("hit", probe("hit", True), checks=("a", "b")), _m("other", probe("other", True), checks=("c",)),
           _m("raises", probe("raises", ZeroDivisionError()), checks=("a",)),
           _m("dies", probe("dies", SessionDead("timeout")), checks=("a",)),
           _m("truthy", probe("truthy", 1), checks=("a",))]
    found = hints.search(lambda r: {}, cat, ["a"], "t")
    assert found == {"a": [{"id": "hit", "text": "hint hit"}]}
    assert "other" not in calls
    assert hints.search(lambda r: {}, cat, [], "t") == {}


def test_search_stops_when_the_student_process_is_dead():
    cat = [_m("first", lambda s, rng: True), _m("second", lambda s, rng: True)]
    assert hints.search(lambda r: {}, cat, ["a"], "t", alive=lambda: False) == {}


def test_a_probe_that_times_out_is_no_match():
    def transport(request):
        raise SessionDead("the call took too long")

    cat = [_m("p", hints.function_probe("f", lambda rng: (1.0,), lambda x: x, lambda x: x + 1))]
    assert hints.search(transport, cat, ["a"], "t") == {}


# -- the report --------------------------------------------------------------------------------------------

def _report(student, hint_ids):
    tests = [{"grade_id": "test_a", "max_points": 1.0, "points": 0.0, "status": "failed", "message": "wrong",
              "hints": [{"id": i, "text": f"<b>text of {i}</b>"} for i in hint_ids]},
             {"grade_id": "test_b", "max_points": 1.0, "points": 1.0, "status": "passed", "message": ""}]
    nb = {"notebook": "task", "status": "graded", "problem": None, "score": 1.0, "max_score": 2.0, "manual_max": 0,
          "tests": tests, "cells": []}
    return {"student": student, "assignment": "A", "score": 1.0, "max_score": 2.0, "manual_max": 0,
            "isolation": "x", "notebooks": [nb]}


def test_feedback_page_shows_hints_escaped():
    rep = _report("s", ["one"])
    page = report.feedback_html(rep, rep["notebooks"][0], [])
    assert "Likely cause:</b> &lt;b&gt;text of one&lt;/b&gt;" in page


def test_feedback_branch_readme_shows_hints_under_the_failed_test():
    from autograder.pull import giveback

    text = giveback.readme(_report("s", ["one", "two"]), None)
    failed = text.index("`test_a`")
    assert failed < text.index("Likely cause:") < text.index("text of one") < text.index("text of two")
    assert "text of" not in text[:failed]
    assert "Likely cause" not in giveback.readme(_report("s", []), None)


def test_class_files_count_students_per_misconception(tmp_path):
    reports = [_report("s1", ["one", "two"]), _report("s2", ["one"]), _report("s3", []), _report("s4", ["x,y"])]
    report.write_class(tmp_path, reports)
    lines = (tmp_path / "misconceptions.csv").read_text().splitlines()
    assert lines == ["assignment,task,misconception,students", "A,task,one,2", "A,task,two,1", "A,task,x_y,1"]
    summary = (tmp_path / "summary.md").read_text()
    assert "| A | task | `one` | 2 |" in summary and "| A | task | `two` | 1 |" in summary


def test_no_misconception_table_without_hints(tmp_path):
    report.write_class(tmp_path, [_report("s", [])])
    assert "Misconceptions" not in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "misconceptions.csv").read_text() == "assignment,task,misconception,students\n"


# -- end to end -----------------------------------------------------------------------------------------------

E2E = {  # student -> the mutated tasks of exam22 (one mutant each; everything else solved)
    "typical": {"batchnorm": "unbiased_variance", "retrieval_ap": "ap_ignoring_ties", "lstm_params": "exam_formula",
                "softplus_layer": "document_code", "bank_rnn": "no_relu", "conv1d_backward": "sum_pooling"},
}


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    dest = tmp_path_factory.mktemp("hintcourse") / "course"
    shutil.copytree(course, dest, ignore=shutil.ignore_patterns("submitted", "autograded", "o", "export.csv"))
    folder = dest / "submitted"
    write_student(dest, folder, "exam22", "solution")
    for student, mutated in E2E.items():
        replace = {task: mutants_of(task)[m]["cells"] for task, m in mutated.items()}
        write_student(dest, folder, "exam22", student, replace)
    out = dest / "out"
    reports = grade.run(folder, "exam22", out, jobs=2, root=dest, echo=lambda m: None)
    return {r["student"]: r for r in reports}, out


def test_end_to_end_reports_feedback_and_counts(graded):
    reports, out = graded
    for nb in reports["solution"]["notebooks"]:
        assert all(not t.get("hints") for t in nb["tests"]), nb["notebook"]
    typical = {nb["notebook"]: nb for nb in reports["typical"]["notebooks"]}
    for task, mutant in E2E["typical"].items():
        expected = {m.id for m in catalogue(task) if mutant in m.mutants}
        tests = typical[task]["tests"]
        named = {h["id"] for t in tests for h in t.get("hints", [])}
        assert named & expected, (task, tests)
        assert all(not t.get("hints") for t in tests if t["status"] != "failed")
        page = (out / "feedback" / "typical" / "exam22" / f"{task}.html").read_text()
        assert "Likely cause:" in page
    saved = json.loads((out / "reports" / "typical--exam22.json").read_text())
    assert any(t.get("hints") for nb in saved["notebooks"] for t in nb["tests"])
    from autograder.pull import giveback

    readme = giveback.readme(saved, None)  # what the student's feedback branch shows
    bn_hint = next(h["text"] for t in typical["batchnorm"]["tests"] for h in t.get("hints", []))
    assert "Likely cause:" in readme and bn_hint.split(".")[0] in readme
    csv_text = (out / "misconceptions.csv").read_text()
    assert "exam22,batchnorm,unbiased_variance,1" in csv_text
    assert "### Misconceptions" in (out / "summary.md").read_text()


class _Session:
    """A student process that answers every request by dying (a hang cut by its timeout)."""

    def __init__(self):
        self.alive, self.timeouts = True, []

    def request(self, request, timeout):
        self.timeouts.append(timeout)
        self.alive = False
        raise SessionDead("the call took too long")


class _Execution:
    def __init__(self):
        self.session = _Session()

    def remaining(self):
        return 100.0

    def _timeout(self):
        return 30.0


def test_a_hint_search_that_kills_the_student_process_changes_no_verdict():
    from autograder.grading.pipeline import attach_hints

    class Spec:
        name = "t"

    verdicts = [{"grade_id": "a", "status": "failed", "points": 0.0, "message": "wrong"},
                {"grade_id": "b", "status": "passed", "points": 1.0, "message": ""}]
    cat = [_m("p", hints.function_probe("f", lambda rng: (1.0,), lambda x: x, lambda x: x + 1)),
           _m("q", lambda s, rng: True)]
    execution = _Execution()
    attach_hints(execution, Spec, verdicts, cat)
    assert verdicts == [{"grade_id": "a", "status": "failed", "points": 0.0, "message": "wrong", "hints": []},
                        {"grade_id": "b", "status": "passed", "points": 1.0, "message": ""}]
    assert execution.session.timeouts == [hints.CALL_SECONDS]  # one short call, then the search stopped


class _Answering:
    """A student process whose every call raises ``error`` (as the child reports it)."""

    def __init__(self, error):
        self.error, self.alive, self.requests = error, True, 0

    def request(self, request, timeout):
        self.requests += 1
        return {"ok": False, "error": self.error}


@pytest.mark.parametrize("error,searched", [("NotImplementedError", False), ("ValueError", True)])
def test_a_check_failed_by_unwritten_code_is_not_searched(error, searched):
    """A stub's checks fail with NotImplementedError: no probe of unwritten code can match, so none runs."""
    from types import SimpleNamespace

    from autograder.grading.pipeline import judge

    session = _Answering(error)
    execution = SimpleNamespace(session=session, remaining=lambda: 100.0, _timeout=lambda: 30.0,
                                transport=lambda request: session.request(request, 30.0))
    cell = SimpleNamespace(grade_id="a", points=1.0, auto=True)
    spec = SimpleNamespace(name="t", grade_cells=[cell])
    probed = []
    cat = [_m("p", lambda student, rng: probed.append(1) or True)]
    verdicts = judge(execution, spec, {"a": lambda student: student.call("f", 1.0)}, misconceptions=cat)
    (verdict,) = verdicts
    assert verdict["status"] == "failed" and verdict["message"].startswith(f"f(...) raised {error}"), verdict
    assert verdict["hints"] == ([{"id": "p", "text": "hint p"}] if searched else [])
    assert probed == ([1] if searched else [])
