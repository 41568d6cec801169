"""The boosted-trees selector: exported from scikit-learn, evaluated with numpy, stored as JSON."""

import json

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

from rag.answer import AnswerModel, LinearModel, load_answer_model
from rag.train import save
from rag.trees import TreeModel

NAMES = ("a", "b", "c")


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 3))
    x[:, 2] = rng.integers(0, 2, size=600)  # a 0/1 feature: trees split it once and stop early
    y = ((x[:, 0] + x[:, 1] * x[:, 2] > 0.3) ^ (rng.random(600) < 0.1)).astype(int)
    return x, y


def test_exported_trees_give_scikit_learns_logits():
    x, y = _data()
    g = GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0).fit(x, y)
    m = TreeModel.from_sklearn(g, NAMES, x[0])
    # Some trees end above full depth; the padding must route through them unchanged.
    assert np.isinf(m.threshold).any()
    xt, _ = _data(seed=1)
    rows = [dict(zip(NAMES, r)) for r in xt]
    np.testing.assert_allclose(m.logits(rows), g.decision_function(xt), atol=1e-9)
    assert m.logit(rows[0]) == m.logits(rows[:1])[0]
    assert m.logits([]).shape == (0,)


def test_a_missing_feature_reads_as_zero_like_the_linear_model():
    x, y = _data()
    m = TreeModel.from_sklearn(GradientBoostingClassifier(n_estimators=5, random_state=0).fit(x, y), NAMES, x[0])
    assert m.logit({"a": 0.5, "b": -1.0}) == m.logit({"a": 0.5, "b": -1.0, "c": 0.0})


def test_an_answer_model_with_trees_survives_json(tmp_path):
    x, y = _data()
    trees = TreeModel.from_sklearn(GradientBoostingClassifier(n_estimators=20, random_state=0).fit(x, y), NAMES, x[0])
    verifier = LinearModel(NAMES, (1.0, -1.0, 0.5), 0.1)
    save(AnswerModel(trees, verifier, (0.0, 1.0), (0.0, 1.0), 0.3), {"note": "test"}, tmp_path / "m.json")
    stored = json.loads((tmp_path / "m.json").read_text())
    assert stored["selector"]["kind"] == "trees"
    back = load_answer_model(tmp_path / "m.json")
    assert isinstance(back.selector, TreeModel) and isinstance(back.verifier, LinearModel)
    rows = [dict(zip(NAMES, r)) for r in x[:50]]
    np.testing.assert_array_equal(back.selector.logits(rows), trees.logits(rows))
