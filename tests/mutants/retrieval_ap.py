MUTANTS = {
    # area under the PR curve by trapezoids (sklearn.metrics.auc) instead of the step sum
    "trapezoidal_ap": {
        "cells": {
            "average_precision_solution": (
                "def average_precision(similarities, relevant):\n"
                "    from sklearn.metrics import auc\n"
                "    precision, recall = precision_recall(similarities, relevant)\n"
                "    return float(auc(recall, precision))\n"
            ),
        },
        "fails": ["test_average_precision", "test_average_precision_ties"],
    },
    # precision averaged over every cut-off, relevant or not
    "mean_precision_every_rank": {
        "cells": {
            "average_precision_solution": (
                "def average_precision(similarities, relevant):\n"
                "    order = np.argsort(-np.asarray(similarities, dtype=float), kind='stable')\n"
                "    hits = np.asarray(relevant, dtype=bool)[order]\n"
                "    return float(np.mean(np.cumsum(hits) / np.arange(1, len(hits) + 1)))\n"
            ),
        },
        "fails": ["test_average_precision", "test_average_precision_ties"],
    },
    # the default (unstable) sort: tied items lose their original order
    "unstable_sort": {
        "cells": {
            "precision_recall_solution": (
                "def precision_recall(similarities, relevant):\n"
                "    order = np.argsort(-np.asarray(similarities, dtype=float))\n"
                "    hits = np.asarray(relevant, dtype=bool)[order]\n"
                "    tp = np.cumsum(hits)\n"
                "    return tp / np.arange(1, len(hits) + 1), tp / hits.sum()\n"
            ),
        },
        "fails": ["test_precision_recall"],
    },
    # negative L1 distance as the similarity (same ranking, wrong values, no inf)
    "negative_l1": {
        "cells": {
            "l1_similarity_solution": (
                "def l1_similarity(query, X):\n"
                "    return -np.abs(np.asarray(X, dtype=float) - np.asarray(query, dtype=float)).sum(axis=1)\n"
            ),
        },
        "fails": ["test_l1_similarity"],
    },
    # 1 / (d + 1): finite at distance 0
    "reciprocal_plus_one": {
        "cells": {
            "l1_similarity_solution": (
                "def l1_similarity(query, X):\n"
                "    return 1.0 / (1.0 + np.abs(np.asarray(X, dtype=float) - np.asarray(query, dtype=float)).sum(axis=1))\n"
            ),
        },
        "fails": ["test_l1_similarity"],
    },
    # ties ignored: every relevant item takes the precision at its own (stable) rank
    "ap_ignoring_ties": {
        "cells": {
            "average_precision_solution": (
                "def average_precision(similarities, relevant):\n"
                "    order = np.argsort(-np.asarray(similarities, dtype=float), kind='stable')\n"
                "    hits = np.asarray(relevant, dtype=bool)[order]\n"
                "    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)\n"
                "    return float(precision[hits].mean())\n"
            ),
        },
        "fails": ["test_average_precision_ties"],
    },
}
