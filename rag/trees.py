"""Boosted regression trees over named features, stored as JSON and evaluated with numpy.

The answer selector is one (``rag train``): scikit-learn's gradient boosting fits it, and each tree
is written out as a complete binary tree of fixed depth, so that every candidate of a question
walks every tree in a few array operations, with no scikit-learn (and no pickle) at run time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class TreeModel:
    """``logit = base + sum of one leaf value per tree``; a node sends x right when x > threshold."""

    features: tuple[str, ...]
    base: float
    depth: int
    feature: np.ndarray  # (trees, 2**depth - 1) feature index of each inner node, heap order
    threshold: np.ndarray  # (trees, 2**depth - 1); +inf where a shallower leaf was padded down
    leaf: np.ndarray  # (trees, 2**depth) leaf values, learning rate included

    def logits(self, rows: list[dict[str, float]]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        # float32 as scikit-learn's trees compare: the thresholds sit between float32 values.
        x = np.array([[f.get(n, 0.0) for n in self.features] for f in rows], dtype=np.float32)
        trees = np.arange(self.feature.shape[0])
        pos = np.zeros((len(rows), len(trees)), dtype=np.int64)
        cand = np.arange(len(rows))[:, None]
        for _ in range(self.depth):
            go_right = x[cand, self.feature[trees, pos]] > self.threshold[trees, pos]
            pos = 2 * pos + 1 + go_right
        return self.base + self.leaf[trees, pos - (2**self.depth - 1)].sum(axis=1)

    def logit(self, f: dict[str, float]) -> float:
        return float(self.logits([f])[0])

    def prob(self, f: dict[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-max(min(self.logit(f), 40.0), -40.0)))

    def to_dict(self) -> dict:
        return {"kind": "trees", "features": list(self.features), "base": self.base, "depth": self.depth,
                "feature": self.feature.tolist(), "threshold": [[t if math.isfinite(t) else None for t in row] for row in self.threshold.tolist()],
                "leaf": self.leaf.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> TreeModel:
        thr = np.array([[np.inf if t is None else t for t in row] for row in d["threshold"]], dtype=np.float64)
        return cls(tuple(d["features"]), float(d["base"]), int(d["depth"]), np.array(d["feature"], dtype=np.int64), thr,
                   np.array(d["leaf"], dtype=np.float64))

    @classmethod
    def from_sklearn(cls, model, features: tuple[str, ...], x_row: np.ndarray) -> TreeModel:
        """Export a fitted binary ``GradientBoostingClassifier``; ``x_row`` (one training row) recovers
        its prior log-odds through the public API."""
        depth = max(e[0].tree_.max_depth for e in model.estimators_)
        inner, leaves = 2**depth - 1, 2**depth
        n = len(model.estimators_)
        feature = np.zeros((n, inner), np.int64)
        threshold = np.full((n, inner), np.inf)
        leaf = np.zeros((n, leaves))
        for t, est in enumerate(model.estimators_[:, 0]):
            tr = est.tree_

            def fill(node: int, pos: int, level: int) -> None:
                if level == depth:
                    leaf[t, pos - inner] = model.learning_rate * tr.value[node].ravel()[0]
                    return
                if tr.children_left[node] == -1:  # a leaf above full depth: both ways lead to it
                    fill(node, 2 * pos + 1, level + 1)
                    fill(node, 2 * pos + 2, level + 1)
                    return
                feature[t, pos] = tr.feature[node]
                threshold[t, pos] = tr.threshold[node]
                fill(tr.children_left[node], 2 * pos + 1, level + 1)
                fill(tr.children_right[node], 2 * pos + 2, level + 1)

            fill(0, 0, 0)
        row = np.asarray(x_row, dtype=np.float64).reshape(1, -1)
        trees_sum = sum(model.learning_rate * e.predict(row)[0] for e in model.estimators_[:, 0])
        base = float(model.decision_function(row)[0] - trees_sum)
        return cls(tuple(features), base, depth, feature, threshold, leaf)
