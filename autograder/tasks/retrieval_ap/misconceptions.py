"""Misconceptions of task retrieval_ap: known wrong approaches, each with a reference of the mistake.

See :mod:`autograder.grading.hints` for the contract (when probes run, what a match is).
"""

from __future__ import annotations

import numpy as np

from autograder.grading.hints import Misconception, function_probe
from autograder.tasks.retrieval_ap.checks import reference_ap, reference_precision_recall, reference_similarity

SIM = "test_l1_similarity"
PR = "test_precision_recall"
AP = "test_average_precision"
TIES = "test_average_precision_ties"


def _l1(query, X):
    return np.abs(np.asarray(X, dtype=np.float64) - np.asarray(query, dtype=np.float64)).sum(axis=1)


def _sim_inputs(rng):
    d, n = int(rng.integers(2, 6)), int(rng.integers(4, 12))
    return rng.normal(size=d) * 3, rng.normal(size=(n, d)) * 3


def _relevance(rng, n):
    rel = rng.random(n) < 0.4
    rel[rng.integers(n)] = True
    rel[rng.integers(n)] = False
    return rel


def _distinct(rng):
    n = int(rng.integers(8, 30))
    return rng.normal(size=n), _relevance(rng, n)


def _tied(rng):
    n = int(rng.integers(10, 40))
    return rng.integers(0, 3, size=n) / 2.0, _relevance(rng, n)


def _many_ties(rng):
    n = int(rng.integers(250, 400))
    return rng.integers(0, 4, size=n) / 3.0, _relevance(rng, n)


def _stable_hits(scores, relevant):
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return np.asarray(relevant, dtype=bool)[order]


def _precision_every_rank(scores, relevant):
    hits = _stable_hits(scores, relevant)
    return np.cumsum(hits) / np.arange(1, len(hits) + 1)


def _trapezoid(scores, relevant):
    p, r = reference_precision_recall(scores, relevant)
    return float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2.0))


def _interpolated(scores, relevant):
    hits = _stable_hits(scores, relevant)
    p = _precision_every_rank(scores, relevant)
    best = np.maximum.accumulate(p[::-1])[::-1]
    return float(best[hits].mean())


def _unstable_pr(scores, relevant):
    order = np.argsort(-np.asarray(scores, dtype=np.float64))
    hits = np.asarray(relevant, dtype=bool)[order]
    tp = np.cumsum(hits)
    return tp / np.arange(1, len(hits) + 1), tp / hits.sum()


def _ap_probe(inputs, wrong, trials=3):
    return function_probe("average_precision", inputs, right=reference_ap, wrong=wrong, trials=trials,
                          pick=lambda out: float(out), rtol=1e-9)


def _pr_probe(inputs, wrong, trials=2):
    return function_probe("precision_recall", inputs, right=reference_precision_recall, wrong=wrong, trials=trials,
                          pick=lambda out: tuple(out), rtol=1e-9)


def _sim_probe(wrong):
    return function_probe("l1_similarity", _sim_inputs, right=reference_similarity, wrong=wrong, rtol=1e-9)


MISCONCEPTIONS = [
    Misconception(
        id="trapezoidal_ap",
        text="Average precision looks like the area under the precision-recall curve by trapezoids; AP is "
             "the step sum: the precision at each relevant item's cut-off, times the recall it adds.",
        checks=(AP, TIES), probe=_ap_probe(_distinct, _trapezoid), mutants=("trapezoidal_ap",), group="ap"),
    Misconception(
        id="mean_precision_every_rank",
        text="Average precision averages the precision at every rank; it averages it only at the ranks of "
             "the relevant items.",
        checks=(AP, TIES), mutants=("mean_precision_every_rank",), group="ap",
        probe=_ap_probe(_distinct, lambda s, r: float(_precision_every_rank(s, r).mean()))),
    Misconception(
        id="interpolated_ap",
        text="Average precision uses interpolated precision (the best precision at this rank or later); "
             "this task's AP uses the precision at each relevant item's own cut-off.",
        checks=(AP, TIES), group="ap",
        probe=_ap_probe(_distinct, _interpolated)),
    Misconception(
        id="ties_ignored",
        text="Tied scores were ranked one by one; a block of equal scores is one cut-off: every item of the "
             "block is retrieved at once and gets the precision at the end of the block.",
        checks=(TIES,), mutants=("ap_ignoring_ties",), group="ap_ties",
        probe=_ap_probe(_tied, lambda s, r: float(_precision_every_rank(s, r)[_stable_hits(s, r)].mean()))),
    Misconception(
        id="unstable_sort",
        text="Items of equal similarity change their order: the default sort is not stable. Rank with a "
             "stable sort so that ties keep their original order.",
        checks=(PR,), mutants=("unstable_sort",), group="pr",
        probe=_pr_probe(_many_ties, _unstable_pr)),
    Misconception(
        id="precision_rank_off_by_one",
        text="The precision at a cut-off is divided by the wrong number of items (off by one); at rank k "
             "(counting from one) exactly k items have been retrieved.",
        checks=(PR,), group="pr",
        probe=_pr_probe(_distinct, lambda s, r: (np.cumsum(_stable_hits(s, r)) / np.arange(len(s)),
                                                 reference_precision_recall(s, r)[1]))),
    Misconception(
        id="recall_over_all_items",
        text="Recall is divided by the number of all items; it is divided by the number of relevant items.",
        checks=(PR,), group="pr",
        probe=_pr_probe(_distinct, lambda s, r: (reference_precision_recall(s, r)[0],
                                                 np.cumsum(_stable_hits(s, r)) / len(s)))),
    Misconception(
        id="integer_division",
        text="Precision and recall come out as whole numbers: they are computed with integer division (//) "
             "or in an integer dtype; they are fractions, so divide as floats (/).",
        checks=(PR,), group="pr",
        probe=_pr_probe(_distinct, lambda s, r: (np.cumsum(_stable_hits(s, r)) // np.arange(1, len(s) + 1),
                                                 np.cumsum(_stable_hits(s, r)) // np.sum(r)))),
    Misconception(
        id="negative_distance",
        text="The similarity is the negative L1 distance; this task defines it as one over the L1 distance "
             "(so that a distance of zero gives an infinite similarity).",
        checks=(SIM,), probe=_sim_probe(lambda q, X: -_l1(q, X)), mutants=("negative_l1",), group="sim"),
    Misconception(
        id="reciprocal_plus_one",
        text="The similarity is one over (one plus the distance); this task defines it as one over the L1 "
             "distance itself (infinite at distance zero).",
        checks=(SIM,), probe=_sim_probe(lambda q, X: 1.0 / (1.0 + _l1(q, X))), mutants=("reciprocal_plus_one",),
        group="sim"),
    Misconception(
        id="l2_for_l1",
        text="The similarity uses the Euclidean (L2) distance; the L1 distance sums the absolute differences.",
        checks=(SIM,), group="sim",
        probe=_sim_probe(lambda q, X: 1.0 / np.sqrt(((np.asarray(X) - np.asarray(q)) ** 2).sum(axis=1)))),
]
