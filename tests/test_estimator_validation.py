"""Bad input is rejected with a clear error naming the problem; never a crash.

Everything that reaches the Cython kernel is also run in a subprocess, so a
segfault shows up as a failed test instead of killing the test session.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse

import logreg

# the directory holding the logreg this test imported (installed or in-place build)
SRC = os.path.dirname(os.path.dirname(os.path.abspath(logreg.__file__)))

rng = np.random.default_rng(0)
X_OK = rng.normal(size=(30, 3))
Y_OK = np.arange(30) % 3


def with_value(a, index, value):
    a = np.array(a, dtype=float)
    a[index] = value
    return a


BAD_X = [
    ("nan", with_value(X_OK, (3, 1), np.nan), ValueError, "X contains NaN"),
    ("inf", with_value(X_OK, (0, 0), np.inf), ValueError, "X contains NaN or infinity"),
    ("-inf", with_value(X_OK, (5, 2), -np.inf), ValueError, "infinity"),
    ("1-D", X_OK[:, 0], ValueError, "Expected a 2-D X.*Reshape your data"),
    ("3-D", X_OK.reshape(30, 3, 1), ValueError, "X must be 2-D"),
    ("0-D", np.float64(1.0), ValueError, "X must be 2-D"),
    ("empty", np.empty((0, 3)), ValueError, r"0 sample\(s\)"),
    ("no features", np.empty((30, 0)), ValueError, r"0 feature\(s\)"),
    ("strings", np.array([["a", "b", "c"]] * 30), TypeError, "X must be numeric"),
    ("object with text", np.array([[1.0, "x", 2.0]] * 30, dtype=object), TypeError,
     "X must be numeric"),
    ("object with dict", np.array([[1.0, {"a": 1}, 2.0]] * 30, dtype=object), TypeError,
     "argument must be a string or a( real)? number"),
    ("complex", X_OK + 1j, ValueError, "Complex data not supported"),
    ("datetime", np.full((30, 3), np.datetime64("2026-01-01")), TypeError, "X must be numeric"),
    ("sparse with NaN", scipy.sparse.csr_matrix(with_value(X_OK, (4, 1), np.nan)), ValueError,
     "X contains NaN"),
    ("sparse complex", scipy.sparse.csr_matrix(X_OK + 1j), ValueError,
     "Complex data not supported"),
    ("ragged", [[1.0, 2.0]] * 29 + [[1.0]], ValueError, "X could not be read"),
]


@pytest.mark.parametrize("X,error,match", [c[1:] for c in BAD_X], ids=[c[0] for c in BAD_X])
def test_bad_X_is_rejected(X, error, match):
    with pytest.raises(error, match=match):
        logreg.LogisticRegression().fit(X, Y_OK)


BAD_Y = [
    ("None", None, ValueError, "requires y to be passed"),
    ("nan", with_value(Y_OK, 4, np.nan), ValueError, "y contains NaN"),
    ("inf", with_value(Y_OK, 4, np.inf), ValueError, "y contains NaN or infinity"),
    ("object nan", np.array(["a", "b", float("nan")] * 10, dtype=object), ValueError,
     "y contains NaN"),
    ("short", Y_OK[:-1], ValueError, "inconsistent numbers of samples.*X has 30.*y has 29"),
    ("2 columns", np.column_stack([Y_OK, Y_OK]), ValueError, "y should be a 1d array"),
    ("one class", np.zeros(30), ValueError, "only one class"),
    ("continuous", np.linspace(0, 1, 30), ValueError, "Unknown label type: continuous"),
    ("mixed types", np.array([1, "a", 2.0] * 10, dtype=object), TypeError, "mixes label types"),
    ("complex", Y_OK + 1j, ValueError, "Complex"),
    ("sparse", scipy.sparse.csr_matrix(Y_OK[:, None]), TypeError, "sparse"),
]


@pytest.mark.parametrize("y,error,match", [c[1:] for c in BAD_Y], ids=[c[0] for c in BAD_Y])
def test_bad_y_is_rejected(y, error, match):
    with pytest.raises(error, match=match):
        logreg.LogisticRegression().fit(X_OK, y)


def test_column_vector_y_is_raveled_with_a_warning():
    with pytest.warns(logreg._exceptions.DataConversionWarning, match="column-vector y"):
        clf = logreg.LogisticRegression().fit(X_OK, Y_OK[:, None])
    np.testing.assert_array_equal(clf.predict(X_OK),
                                  logreg.LogisticRegression().fit(X_OK, Y_OK).predict(X_OK))


BAD_WEIGHTS = [
    ("nan", with_value(np.ones(30), 2, np.nan), ValueError, "sample_weight contains NaN"),
    ("inf", with_value(np.ones(30), 2, np.inf), ValueError, "sample_weight contains NaN"),
    ("negative", with_value(np.ones(30), 7, -1.0), ValueError, "negative"),
    ("short", np.ones(29), ValueError, "sample_weight has 29 entries but X has 30"),
    ("2-D", np.ones((30, 2)), ValueError, "sample_weight must be 1-D"),
    ("strings", np.array(["1"] * 30), TypeError, "sample_weight must be numeric"),
    ("all zero", np.zeros(30), ValueError, "sample_weight is zero for every sample"),
    ("one class left", (Y_OK == 1).astype(float), ValueError,
     r"Only one class has positive total weight.*\bclass\b"),
]


@pytest.mark.parametrize("w,error,match", [c[1:] for c in BAD_WEIGHTS],
                         ids=[c[0] for c in BAD_WEIGHTS])
def test_bad_sample_weight_is_rejected(w, error, match):
    with pytest.raises(error, match=match):
        logreg.LogisticRegression().fit(X_OK, Y_OK, sample_weight=w)


BAD_PARAMS = [
    (dict(penalty="l1"), ValueError, "'penalty' parameter.*'l2' or None"),
    (dict(penalty="none"), ValueError, "'penalty' parameter"),
    (dict(C=0.0), ValueError, "'C' parameter.*> 0"),
    (dict(C=-1.0), ValueError, "'C' parameter"),
    (dict(C=np.nan), ValueError, "'C' parameter"),
    (dict(C="1"), ValueError, "'C' parameter"),
    (dict(C=True), ValueError, "'C' parameter"),
    (dict(fit_intercept="yes"), ValueError, "'fit_intercept' parameter.*bool"),
    (dict(solver="lbfgs"), ValueError, "'solver' parameter.*'newton', 'newton-cg' or 'gd'"),
    (dict(tol=-1e-3), ValueError, "'tol' parameter"),
    (dict(tol=np.inf), ValueError, "'tol' parameter"),
    (dict(max_iter=-1), ValueError, "'max_iter' parameter.*int >= 0"),
    (dict(max_iter=2.5), ValueError, "'max_iter' parameter"),
    (dict(class_weight="auto"), ValueError, "'class_weight' parameter"),
    (dict(class_weight=[1.0, 2.0]), ValueError, "'class_weight' parameter"),
    (dict(class_weight={7: 1.0}), ValueError, r"class_weight names labels \[7\]"),
    (dict(class_weight={0: -1.0}), ValueError, r"class_weight\[0\] must be finite and >= 0"),
    (dict(class_weight={0: "x"}), TypeError, r"class_weight\[0\] must be a number"),
    (dict(warm_start=None), ValueError, "'warm_start' parameter"),
    (dict(n_threads=0), ValueError, "n_threads must be None or a nonzero int"),
    (dict(n_threads=1.5), TypeError, "n_threads must be None or a nonzero int"),
    (dict(verbose=-1), ValueError, "'verbose' parameter"),
    (dict(learning_rate=0.0), ValueError, "'learning_rate' parameter"),
    (dict(learning_rate="fast"), ValueError, "'learning_rate' parameter"),
]


@pytest.mark.parametrize("params,error,match", BAD_PARAMS, ids=[str(p[0]) for p in BAD_PARAMS])
def test_bad_parameters_are_rejected_in_fit(params, error, match):
    clf = logreg.LogisticRegression(**params)        # construction never raises
    with pytest.raises(error, match=match):
        clf.fit(X_OK, Y_OK)


@pytest.mark.parametrize("k", [2, 3])
def test_values_whose_squares_overflow_are_rejected(k):
    X = with_value(X_OK, (2, 1), 1e200)
    with pytest.raises(ValueError, match="Hessian overflowed.*Rescale the features"):
        logreg.LogisticRegression().fit(X, Y_OK % k)


def test_bad_input_at_predict_time():
    clf = logreg.LogisticRegression().fit(X_OK, Y_OK)
    with pytest.raises(ValueError, match="X has 2 features, but LogisticRegression is "
                                         "expecting 3 features"):
        clf.predict(X_OK[:, :2])
    with pytest.raises(ValueError, match="X contains NaN"):
        clf.predict_proba(with_value(X_OK, (0, 0), np.nan))
    with pytest.raises(ValueError, match="Reshape your data"):
        clf.decision_function(X_OK[0])
    with pytest.raises(ValueError, match=r"y has shape \(29,\)"):
        clf.score(X_OK, Y_OK[:-1])


def run_python(code, timeout=120):
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_bad_inputs_never_crash_the_interpreter():
    """Each bad input raises a Python exception in a fresh process: no segfault, no hang."""
    code = """
        import numpy as np, scipy.sparse, logreg
        rng = np.random.default_rng(0)
        X = rng.normal(size=(40, 3)); y = np.arange(40) % 3
        cases = [
            (np.full((40, 3), np.nan), y, None),
            (X[:, 0], y, None),
            (X[:, :, None], y, None),
            (np.empty((0, 3)), y[:0], None),
            (np.empty((40, 0)), y, None),
            (X, y[:5], None),
            (X, y, -np.ones(40)),
            (X, y, np.ones(3)),
            (X, np.zeros(40), None),
            (X.astype(object), y.astype(float) + 0.5, None),
            (scipy.sparse.csr_matrix(np.where(X > 1, np.inf, X)), y, None),
            (scipy.sparse.csr_matrix((np.ones(3), np.array([0, 7, 1]), np.array([0, 1, 2] + [3] * 38)),
                                     shape=(40, 3)), y, None),
            (np.where(X > 1, 1e200, X), y, None),
        ]
        for Xc, yc, wc in cases:
            try:
                logreg.LogisticRegression().fit(Xc, yc, sample_weight=wc)
            except (ValueError, TypeError):
                pass
            else:
                raise SystemExit("accepted a bad input")
        print("all rejected")
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "all rejected" in result.stdout


def test_unusual_memory_layouts_reach_the_kernel_safely():
    """Strided, reversed, Fortran, read-only, float16/int/bool X: same answer, no crash."""
    code = """
        import numpy as np, logreg
        rng = np.random.default_rng(1)
        base = rng.normal(size=(400, 10)); y = rng.integers(0, 4, 400)
        want = logreg.LogisticRegression().fit(base[::-1, ::-2].copy(), y[::-1]).coef_
        ro = base.copy(); ro.setflags(write=False)
        views = [base[::-1, ::-2], np.asfortranarray(base)[::-1, ::-2],
                 ro[::-1, ::-2], base[::-1, ::-2].astype(np.float32)]
        for Xv in views:
            got = logreg.LogisticRegression().fit(Xv, y[::-1]).coef_
            assert np.abs(got - want).max() < 1e-4 * np.abs(want).max(), Xv.dtype
        for Xv in (base.astype(np.float16), base > 0, (10 * base).astype(np.int8)):
            assert np.all(np.isfinite(logreg.LogisticRegression().fit(Xv, y).coef_))
        big = rng.normal(size=(3, 50)); yb = np.array([0, 1, 2])     # d >> n
        assert np.all(np.isfinite(logreg.LogisticRegression().fit(big, yb).coef_))
        print("ok")
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok" in result.stdout
