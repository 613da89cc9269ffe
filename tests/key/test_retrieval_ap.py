"""Independent confirmation of every value of autograder/tasks/retrieval_ap/key.toml."""

from fractions import Fraction

import numpy as np
import pytest

from autograder.tasks.answer_key import entry, raw, value

TASK = "retrieval_ap"


def exam():
    e = entry(TASK, "exam_data")
    return e["query"], e["X"], e["identities"] == e["query_identity"]


def test_every_entry_is_covered():
    assert set(raw(TASK)) == {"exam_data", "similarities", "ranking", "true_positives", "false_positives",
                              "false_negatives", "precision", "recall", "average_precision"}
    for name, table in raw(TASK).items():
        assert {"document", "problem", "equation", "verified"} <= set(table), name


def test_exam_data_is_consistent():
    query, X, relevant = exam()
    assert query.shape == (2,) and X.shape == (4, 2) and relevant.tolist() == [True, True, False, True]


def test_similarities():
    from scipy.spatial.distance import cityblock
    query, X, _ = exam()
    expected = [1.0 / cityblock(query, row) for row in X]
    np.testing.assert_allclose(value(TASK, "similarities"), expected, rtol=1e-15)
    exact = [1 / sum(abs(Fraction(a) - Fraction(b)) for a, b in zip(query, row)) for row in X]
    assert [Fraction(v).limit_denominator(100) for v in value(TASK, "similarities")] == exact


def test_ranking():
    order = sorted(range(4), key=lambda i: -value(TASK, "similarities")[i])
    assert value(TASK, "ranking").tolist() == order


def test_table():
    _, _, relevant = exam()
    hits = relevant[sorted(range(4), key=lambda i: -value(TASK, "similarities")[i])]
    tp = np.cumsum(hits)
    k = np.arange(1, 5)
    np.testing.assert_array_equal(value(TASK, "true_positives"), tp)
    np.testing.assert_array_equal(value(TASK, "false_positives"), k - tp)
    np.testing.assert_array_equal(value(TASK, "false_negatives"), hits.sum() - tp)
    np.testing.assert_allclose(value(TASK, "precision"), tp / k, rtol=1e-15)
    np.testing.assert_allclose(value(TASK, "recall"), tp / hits.sum(), rtol=1e-15)


def test_table_sklearn():
    from sklearn.metrics import precision_recall_curve
    _, _, relevant = exam()
    p, r, thresholds = precision_recall_curve(relevant.astype(int), value(TASK, "similarities"))
    # sklearn lists the distinct thresholds in increasing order, plus the end point (P=1, R=0)
    order = np.argsort(-thresholds)
    np.testing.assert_allclose(value(TASK, "precision"), p[:-1][order], rtol=1e-12)
    np.testing.assert_allclose(value(TASK, "recall"), r[:-1][order], rtol=1e-12)


def test_average_precision():
    from sklearn.metrics import average_precision_score
    _, _, relevant = exam()
    ap = average_precision_score(relevant.astype(int), value(TASK, "similarities"))
    assert value(TASK, "average_precision") == pytest.approx(ap, rel=1e-14)
    assert value(TASK, "average_precision") == pytest.approx(float(Fraction(29, 36)), rel=1e-15)
    # the document's convention: start at (R=0, P@1); at equal R keep the larger P; step area
    p, r = value(TASK, "precision"), value(TASK, "recall")
    best = {}
    for pi, ri in zip(p, r):
        best[ri] = max(best.get(ri, 0.0), pi)
    levels = sorted(best)
    area = sum((b - a) * best[b] for a, b in zip([0.0] + levels[:-1], levels))
    assert value(TASK, "average_precision") == pytest.approx(area, rel=1e-14)
