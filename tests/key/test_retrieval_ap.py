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


def test_the_graders_numpy_average_precision_is_scikit_learns():
    """The checks' ``reference_ap`` (NumPy, so grading never imports scikit-learn) against scikit-learn."""
    import warnings

    from sklearn.metrics import average_precision_score

    from autograder.tasks.retrieval_ap.checks import reference_ap

    rng = np.random.default_rng(14)
    worst, cases = 0.0, 0
    for trial in range(3000):
        n = int(rng.integers(1, 60))
        if trial % 3 == 0:
            scores = rng.normal(size=n)
        else:  # few distinct values: many blocks of ties, one at the top too
            scores = rng.integers(0, int(rng.integers(1, 6)), size=n) / 3.0
        relevant = rng.random(n) < rng.uniform(0.05, 0.95)
        if trial % 50 == 0:
            relevant[:] = False  # nothing relevant: both say 0
        ours = reference_ap(scores, relevant)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn warns when nothing is relevant
            theirs = float(average_precision_score(relevant.astype(int), scores))
        assert isinstance(ours, float)
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15), (scores, relevant)
        worst, cases = max(worst, abs(ours - theirs)), cases + 1
    assert cases == 3000 and worst < 1e-14
    assert reference_ap([1.0, 1.0, 0.2], [True, False, False]) == 0.5  # a tied block at the top is one cut-off
    assert reference_ap([3.0, 2.0, 1.0], [False, True, True]) == pytest.approx((0.5 + 2 / 3) / 2, rel=1e-15)


def test_grading_retrieval_ap_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = ("import sys, numpy as np; from autograder.tasks.retrieval_ap import checks; "
            "checks.reference_ap(np.array([1.0, 0.5]), np.array([True, False])); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
