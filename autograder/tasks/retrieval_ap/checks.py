"""Checks of task retrieval_ap (exam22, problem 2: "Zadatak 2", eq. 40 and the P/R table).

References: ``reference_similarity`` and ``reference_precision_recall`` here;
``reference_ap``, a NumPy copy of scikit-learn's ``average_precision_score``
(a block of tied scores is one threshold): the grader never imports scikit-learn;
the tests compare the two on many random cases.
"""

from __future__ import annotations

import numpy as np

from autograder.grading.checking import (
    as_array,
    as_float_array,
    as_number,
    assert_close,
    check,
    expect,
    fail,
)
from autograder.tasks.answer_key import value

TASK = "retrieval_ap"


# -- references ---------------------------------------------------------------

def reference_similarity(query, X):
    d = np.abs(np.asarray(X, dtype=np.float64) - np.asarray(query, dtype=np.float64)).sum(axis=1)
    with np.errstate(divide="ignore"):
        return 1.0 / d


def reference_precision_recall(scores, relevant):
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")  # stable
    hits = np.asarray(relevant, dtype=bool)[order]
    tp = np.cumsum(hits)
    return tp / np.arange(1, len(hits) + 1), tp / hits.sum()


def reference_ap(scores, relevant) -> float:
    """Average precision as scikit-learn's ``average_precision_score`` computes it, in NumPy.

    A block of tied scores is one cut-off; AP = sum over cut-offs (highest score first) of
    (R_k - R_{k-1}) * P_k, summed in scikit-learn's order; 0.0 when nothing is relevant.
    ``tests/key/test_retrieval_ap.py`` checks it against scikit-learn on many random cases.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    order = np.argsort(s, kind="mergesort")[::-1]  # as scikit-learn: a stable sort, reversed
    s, hits = s[order], np.asarray(relevant).ravel()[order] != 0
    ends = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # the last item of each block of ties
    tps = np.cumsum(hits, dtype=np.float64)[ends]
    if tps.size == 0 or tps[-1] == 0:
        return 0.0
    precision, recall = tps / (ends + 1.0), tps / tps[-1]
    return float(-np.sum(np.diff(np.r_[recall[::-1], 0.0]) * precision[::-1]))


# -- helpers ----------------------------------------------------------------------

def _exam():
    e = lambda f: value(TASK, "exam_data", f)  # noqa: E731
    return e("query"), e("X"), e("identities") == e("query_identity")


def _unchanged(after, before, name):
    ok = isinstance(after, list) and len(after) == len(before) and all(
        isinstance(a, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
        for a, b in zip(after, before))
    expect(ok, f"{name}: modified its inputs")


def _pr(student, scores, relevant):
    result, after = student.call_keep_args("precision_recall", scores, relevant)
    _unchanged(after, [scores, relevant], "precision_recall")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("precision_recall: must return a pair (precision, recall)")
    n = len(scores)
    return (as_float_array(result[0], "precision_recall: precision", (n,)),
            as_float_array(result[1], "precision_recall: recall", (n,)))


def _ap(student, scores, relevant):
    result, after = student.call_keep_args("average_precision", scores, relevant)
    _unchanged(after, [scores, relevant], "average_precision")
    return as_number(result, "average_precision(...)")


def _random_relevance(rng, n):
    relevant = rng.random(n) < rng.uniform(0.2, 0.7)
    relevant[rng.integers(n)] = True
    return relevant


# -- checks -------------------------------------------------------------------------

@check
def test_l1_similarity(student):
    query, X, _ = _exam()
    sim = as_float_array(student.call("l1_similarity", query, X), "l1_similarity on the exam's data", (len(X),))
    assert_close(sim, value(TASK, "similarities"), "l1_similarity on the exam's data", rtol=1e-12)
    for trial in range(4):
        n, d = int(student.rng.integers(1, 40)), int(student.rng.integers(1, 8))
        q, Xr = student.rng.normal(size=d) * 3, student.rng.normal(size=(n, d)) * 3
        if trial >= 2:                      # an exact copy of the query in the database
            Xr[student.rng.integers(n)] = q
        out, after = student.call_keep_args("l1_similarity", q, Xr)
        _unchanged(after, [q, Xr], "l1_similarity")
        out = as_float_array(out, "l1_similarity on random data", (n,))
        assert_close(out, reference_similarity(q, Xr), "l1_similarity on random data (distance 0 must give inf)",
                     rtol=1e-12)
    out = as_array(student.call("l1_similarity", np.array([2.0, 5.0]), np.array([[2.0, 5.0]])),
                   "l1_similarity", shape=(1,))
    expect(out[0] == np.inf, "l1_similarity: distance 0 must give similarity inf")


@check
def test_precision_recall(student):
    query, X, relevant = _exam()
    precision, recall = _pr(student, value(TASK, "similarities"), relevant)
    assert_close(precision, value(TASK, "precision"), "precision on the exam's data")
    assert_close(recall, value(TASK, "recall"), "recall on the exam's data")
    precision, _ = _pr(student, np.array([0.1, 0.5, 0.5]), np.array([False, True, False]))
    assert_close(precision, [1.0, 0.5, 1.0 / 3.0], "precision with tied similarities (keep the original order)")
    for _trial in range(3):                  # distinct scores
        n = int(student.rng.integers(2, 60))
        scores, rel = student.rng.normal(size=n), _random_relevance(student.rng, n)
        precision, recall = _pr(student, scores, rel)
        p_ref, r_ref = reference_precision_recall(scores, rel)
        assert_close(precision, p_ref, "precision on random data")
        assert_close(recall, r_ref, "recall on random data")
    for _trial in range(3):                  # many ties: the order inside a tie must be the original one
        n = int(student.rng.integers(200, 400))
        scores = student.rng.integers(0, 5, size=n) / 4.0
        rel = _random_relevance(student.rng, n)
        precision, recall = _pr(student, scores, rel)
        p_ref, r_ref = reference_precision_recall(scores, rel)
        assert_close(precision, p_ref, "precision with many tied similarities "
                     "(items of equal similarity must keep their original order: use a stable sort)")
        assert_close(recall, r_ref, "recall with many tied similarities")


@check
def test_average_precision(student):
    query, X, relevant = _exam()
    ap = _ap(student, value(TASK, "similarities"), relevant)
    assert_close(ap, value(TASK, "average_precision"), "average_precision on the exam's data")
    assert_close(_ap(student, np.array([3.0, 2.0, 1.0]), np.array([True, True, False])), 1.0,
                 "average_precision of a perfect ranking")
    assert_close(_ap(student, np.array([3.0, 2.0, 1.0]), np.array([False, True, True])), (0.5 + 2.0 / 3.0) / 2,
                 "average_precision with relevant items at ranks 2 and 3")
    for _trial in range(6):
        n = int(student.rng.integers(1, 80))
        scores, rel = student.rng.normal(size=n), _random_relevance(student.rng, n)
        assert_close(_ap(student, scores, rel), reference_ap(scores, rel), "average_precision on random data",
                     rtol=1e-9)


@check
def test_average_precision_ties(student):
    assert_close(_ap(student, np.array([1.0, 1.0, 0.2]), np.array([True, False, False])), 0.5,
                 "average_precision with a tied block at the top")
    assert_close(_ap(student, np.array([1.0, 1.0, 0.2]), np.array([False, True, False])), 0.5,
                 "average_precision with a tied block at the top")
    for _trial in range(6):
        n = int(student.rng.integers(5, 80))
        scores = student.rng.integers(0, int(student.rng.integers(2, 6)), size=n) / 3.0
        rel = _random_relevance(student.rng, n)
        assert_close(_ap(student, scores, rel), reference_ap(scores, rel),
                     "average_precision with tied similarities (a block of ties is one cut-off)", rtol=1e-9)
