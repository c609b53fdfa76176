"""The linear-programming separation certificate against independent checks.

A certificate is verified directly: along its direction no sample's own-class
margin is negative and some are positive, so the cross-entropy decreases
without bound.  Non-separable data (real data sets statsmodels fits to a
finite optimum, random labels) must give no certificate.
"""
import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.datasets import load_iris

from logreg import reference
from logreg._separation import find_separation


def _margins(X, codes, direction, fit_intercept):
    Xt = np.hstack([X, np.ones((len(X), 1))]) if fit_intercept else X
    B = direction if direction.shape[0] > 1 else np.vstack([0 * direction, direction])
    eta = Xt @ B.T
    own = eta[np.arange(len(codes)), codes][:, None]
    rival = np.ones_like(eta, dtype=bool)
    rival[np.arange(len(codes)), codes] = False
    return (own - eta)[rival]


def _cross_entropy(X, codes, coef, fit_intercept):
    Xt = np.hstack([X, np.ones((len(X), 1))]) if fit_intercept else X
    B = coef if coef.shape[0] > 1 else np.vstack([0 * coef, coef])
    P = reference.softmax(Xt @ B.T)
    return -np.sum(np.log(P[np.arange(len(codes)), codes]))


def _assert_certificate(X, codes, cert, fit_intercept=True):
    m = _margins(X, codes, cert.direction, fit_intercept)
    scale = np.max(np.abs(m))
    assert m.min() >= -1e-6 * scale and m.max() > 0
    losses = [_cross_entropy(X, codes, t * cert.direction, fit_intercept) for t in (0, 1, 4, 16)]
    assert np.all(np.diff(losses) < 0), losses


def test_iris_setosa_is_separated_from_the_other_two():
    X, y = load_iris(return_X_y=True)
    cert = find_separation(X, y, None, n_classes=3, fit_intercept=True)
    assert cert is not None and cert.groups == [[0], [1, 2]]
    _assert_certificate(X, y, cert)


def test_complete_binary_separation():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] + 0.5 * X[:, 2] > 0.1).astype(int)
    cert = find_separation(X, y, None, n_classes=2, fit_intercept=True)
    assert cert is not None and cert.direction.shape == (1, 4)
    assert 0 in cert.features and 2 in cert.features
    _assert_certificate(X, y, cert)


def test_quasi_complete_separation_with_ties():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(0, 3, 300).astype(float), rng.standard_normal(300)])
    # class 2 occurs exactly where x0 == 2; classes 0 and 1 overlap elsewhere
    y = np.where(X[:, 0] == 2, 2, rng.integers(0, 2, 300))
    cert = find_separation(X, y, None, n_classes=3, fit_intercept=True)
    assert cert is not None and not cert.complete
    assert [2] in cert.groups
    _assert_certificate(X, y, cert)


def test_zero_weight_samples_do_not_count():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((100, 2))
    y = (X[:, 0] > 0).astype(int)
    w = np.ones(100)
    assert find_separation(X, y, w, n_classes=2, fit_intercept=True) is not None
    # one contradicting sample breaks the separation unless its weight is zero
    X2, y2 = np.vstack([X, [[3.0, 0.0]]]), np.append(y, 0)
    assert find_separation(X2, y2, None, n_classes=2, fit_intercept=True) is None
    assert find_separation(X2, y2, np.append(w, 0.0), n_classes=2,
                           fit_intercept=True) is not None


@pytest.mark.parametrize("k", [2, 3, 5])
def test_random_labels_are_not_separable(k):
    rng = np.random.default_rng(k)
    X = rng.standard_normal((2000, 6)) * [1, 10, 1e-3, 1e4, 1, 1]   # any units
    y = rng.integers(0, k, 2000)
    assert find_separation(X, y, None, n_classes=k, fit_intercept=True) is None


@pytest.mark.parametrize("name", ["spector", "anes96"])
def test_statsmodels_data_with_a_finite_optimum_are_not_separable(name):
    data = getattr(sm.datasets, name).load_pandas()
    X = data.exog.to_numpy(dtype=float)
    classes, codes = np.unique(data.endog.to_numpy(), return_inverse=True)
    assert find_separation(X, codes, None, n_classes=len(classes),
                           fit_intercept=True) is None


def test_iris_unpenalized_stops_early_and_names_the_separation():
    import warnings

    import pandas as pd

    import logreg
    from logreg import PerfectSeparationWarning

    data = load_iris(as_frame=True)
    y = pd.Series(np.asarray(data.target_names)[data.target])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = logreg.LogisticRegression(penalty=None).fit(data.data, y)
    messages = [str(w.message) for w in caught if issubclass(w.category,
                                                             PerfectSeparationWarning)]
    assert len(messages) == 1, [str(w.message) for w in caught]
    assert "'setosa' from 'versicolor', 'virginica'" in messages[0]
    assert "petal" in messages[0]
    assert clf.n_iter_ <= 100 and not clf.converged_
    assert np.all(np.isfinite(clf.coef_))
    with pytest.warns(logreg.InferenceWarning, match="did not converge"):
        summary = str(clf.summary())
    converged_line = next(line for line in summary.splitlines() if "Converged:" in line)
    assert converged_line.split("Converged:")[1].split()[0] == "False"


@pytest.mark.parametrize("name", ["spector", "anes96"])
def test_no_false_alarm_on_fits_with_a_finite_optimum(name):
    import warnings

    import logreg

    data = getattr(sm.datasets, name).load_pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = logreg.LogisticRegression(penalty=None).fit(data.exog, data.endog)
    assert clf.converged_
