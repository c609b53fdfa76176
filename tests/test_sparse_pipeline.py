"""logreg in scikit-learn's sparse pipelines: OneHotEncoder / ColumnTransformer output
is CSR, and the fit is scikit-learn's newton-cholesky optimum at the same C."""
import numpy as np
import pytest

import logreg

from .tolerances import SKLEARN_COEF_RTOL, SPARSE_PIPELINE_SCORE_RTOL, assert_allclose_scaled

sklearn = pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")


def mixed_frame(n=1500, seed=0):
    """Three categorical columns (one-hot: sparse) and two numeric ones; 3 classes."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "colour": rng.choice(["red", "green", "blue", "grey"], n),
        "size": rng.choice(["S", "M", "L"], n, p=[0.5, 0.3, 0.2]),
        "shop": rng.choice([f"s{i}" for i in range(12)], n),
        "price": rng.lognormal(3.0, 0.5, n),
        "age": rng.normal(40.0, 12.0, n),
    })
    codes = pd.factorize(frame["colour"])[0]
    logits = np.column_stack([
        0.8 * (codes == 1) + 0.02 * frame["age"],
        0.5 * (frame["size"] == "L") - 0.01 * frame["price"],
        np.zeros(n),
    ]) + rng.gumbel(size=(n, 3))
    return frame, np.array(["a", "b", "c"])[logits.argmax(axis=1)]


def pipeline(classifier):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer([
        ("categories", OneHotEncoder(), ["colour", "size", "shop"]),
        ("numbers", StandardScaler(), ["price", "age"]),
    ], sparse_threshold=0.5)
    return Pipeline([("columns", columns), ("model", classifier)])


@pytest.mark.parametrize("C", [0.1, 1.0])
def test_onehot_pipeline_cross_val_score_equals_newton_cholesky(C):
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression
    from sklearn.model_selection import cross_val_score

    X, y = mixed_frame()
    ours = pipeline(logreg.LogisticRegression(C=C, tol=1e-10))
    peer = pipeline(SkLogisticRegression(C=C, solver="newton-cholesky", tol=1e-12,
                                         max_iter=1000))
    assert sp.issparse(ours[:-1].fit_transform(X, y))     # the classifier sees CSR
    ours_scores = cross_val_score(ours, X, y, cv=4, scoring="neg_log_loss")
    peer_scores = cross_val_score(peer, X, y, cv=4, scoring="neg_log_loss")
    np.testing.assert_allclose(ours_scores, peer_scores, rtol=SPARSE_PIPELINE_SCORE_RTOL)
    ours.fit(X, y)
    peer.fit(X, y)
    assert_allclose_scaled(ours[-1].coef_, peer[-1].coef_, SKLEARN_COEF_RTOL)
    assert ours[-1].history_[0]["route"] == "full"
    np.testing.assert_array_equal(ours.predict(X), peer.predict(X))
