"""logreg.hessian rejects bad input with a clear error, never a crash or NaN."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import logreg
from logreg import reference


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    P = reference.softmax(rng.standard_normal((20, 4)))
    return X, P


def test_nan_and_inf_in_X(problem):
    X, P = problem
    for bad in (np.nan, np.inf, -np.inf):
        Xb = X.copy()
        Xb[3, 1] = bad
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            logreg.hessian(Xb, P)


def test_X_dimensions(problem):
    X, P = problem
    with pytest.raises(ValueError, match="X must be 2-D.*got 1-D"):
        logreg.hessian(X[:, 0], P)
    with pytest.raises(ValueError, match="X must be 2-D.*got 3-D"):
        logreg.hessian(X[:, :, None], P)
    with pytest.raises(ValueError, match="X is empty"):
        logreg.hessian(X[:0], P[:0])
    with pytest.raises(ValueError, match="0 features"):
        logreg.hessian(X[:, :0], P)


def test_X_not_numeric(problem):
    X, P = problem
    with pytest.raises(TypeError, match="X must be numeric"):
        logreg.hessian(X.astype(str), P)
    with pytest.raises(TypeError, match="X must be numeric"):
        logreg.hessian(X.astype(object), P)
    with pytest.raises(TypeError, match="X must be numeric"):
        logreg.hessian(X + 1j, P)


def test_sparse_X_follows_the_dense_rules(problem):
    from scipy import sparse

    X, P = problem
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        logreg.hessian(sparse.csr_matrix(bad), P)
    with pytest.raises(ValueError, match="proba has 3 rows"):
        logreg.hessian(sparse.csc_matrix(X), P[:3])


def test_proba_checks(problem):
    X, P = problem
    with pytest.raises(ValueError, match="proba has 19 rows but X has 20"):
        logreg.hessian(X, P[:19])
    with pytest.raises(ValueError, match="rows of proba must sum to 1"):
        logreg.hessian(X, P * 1.01)
    with pytest.raises(ValueError, match=r"proba must lie in \[0, 1\]"):
        bad = P.copy()
        bad[0, :2] = [1.5, -0.5 - bad[0, 2:].sum() + 0.0]
        logreg.hessian(X, bad)
    with pytest.raises(ValueError, match="proba contains NaN"):
        bad = P.copy()
        bad[2, 2] = np.nan
        logreg.hessian(X, bad)
    with pytest.raises(ValueError, match="at least 2 columns"):
        logreg.hessian(X, np.ones((20, 1)))
    with pytest.raises(ValueError, match="proba must be 2-D"):
        logreg.hessian(X, P[:, 0])
    with pytest.raises(TypeError, match="proba must be numeric"):
        logreg.hessian(X, P.astype(str))


def test_float32_proba_uses_float32_tolerance(problem):
    X, P = problem
    P32 = P.astype(np.float32)  # rows sum to 1 only to float32 precision
    P64 = P32.astype(float)
    with pytest.raises(ValueError, match="must sum to 1"):  # float64 is held to 1e-8
        logreg.hessian(X, P64 * (1 + 1e-6))
    expected = logreg.hessian(X, P64 / P64.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(logreg.hessian(X, P32), expected, rtol=1e-6, atol=1e-6)


def test_sample_weight_checks(problem):
    X, P = problem
    with pytest.raises(ValueError, match="sample_weight has 5 entries but X has 20"):
        logreg.hessian(X, P, np.ones(5))
    with pytest.raises(ValueError, match="sample_weight contains negative"):
        logreg.hessian(X, P, -np.ones(20))
    with pytest.raises(ValueError, match="sample_weight contains NaN"):
        w = np.ones(20)
        w[4] = np.nan
        logreg.hessian(X, P, w)
    with pytest.raises(ValueError, match="sample_weight contains NaN"):
        w = np.ones(20)
        w[4] = np.inf
        logreg.hessian(X, P, w)
    with pytest.raises(ValueError, match="sample_weight must be 1-D"):
        logreg.hessian(X, P, np.ones((20, 1)))
    with pytest.raises(TypeError, match="sample_weight must be numeric"):
        logreg.hessian(X, P, np.array(["a"] * 20))


def test_out_checks(problem):
    X, P = problem
    m = 4 * 3
    with pytest.raises(ValueError, match=r"out must have shape \(12, 12\)"):
        logreg.hessian(X, P, out=np.empty((m, m + 1)))
    with pytest.raises(TypeError, match="out must have dtype float64"):
        logreg.hessian(X, P, out=np.empty((m, m), dtype=np.float32))
    with pytest.raises(ValueError, match="out must be C-contiguous"):
        logreg.hessian(X, P, out=np.empty((m, 2 * m))[:, ::2])
    ro = np.empty((m, m))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        logreg.hessian(X, P, out=ro)
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        logreg.hessian(X, P, out=[[0.0] * m] * m)


def test_n_threads_checks(problem):
    X, P = problem
    with pytest.raises(ValueError, match="n_threads must be None or a nonzero int"):
        logreg.hessian(X, P, n_threads=0)
    with pytest.raises(TypeError, match="n_threads must be None or a nonzero int"):
        logreg.hessian(X, P, n_threads=1.5)


def test_bad_inputs_never_crash_the_interpreter():
    """The same bad calls in a fresh interpreter: a segfault would show as a signal."""
    code = textwrap.dedent(
        """
        import numpy as np, logreg
        X = np.ones((5, 2)); P = np.full((5, 2), 0.5)
        bad = [
            lambda: logreg.hessian(X[:0], P[:0]),
            lambda: logreg.hessian(X, P[:3]),
            lambda: logreg.hessian(X, P, np.ones(2)),
            lambda: logreg.hessian(X, P, out=np.empty((1, 1))),
            lambda: logreg.hessian(np.ones((5, 0)), P),
            lambda: logreg.hessian(X, np.ones((5, 0))),
        ]
        for call in bad:
            try:
                call()
            except (ValueError, TypeError):
                pass
            else:
                raise SystemExit("accepted bad input")
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("y", [
    np.random.default_rng(0).integers(0, 5, 10_000),
    np.random.default_rng(1).integers(-3, 40, 1000).astype(np.int8),
    np.array([-128, 127, 0], dtype=np.int8),                      # range wider than int8
    np.array([True, False, True]),
    np.array([2**64 - 1, 2**64 - 5, 2**64 - 1], dtype=np.uint64),
    np.array([-2**63, -2**63 + 3, -2**63], dtype=np.int64),
    np.array([7, 7, 7], dtype=np.int32),
    np.array([0, 10**12, 5]),                                       # too wide: np.unique
], ids=lambda y: str(y.dtype))
def test_integer_labels_are_encoded_like_np_unique(y):
    from logreg._validation import check_y_labels

    classes, codes = check_y_labels(y, len(y))
    expected_classes, expected_codes = np.unique(y, return_inverse=True)
    assert classes.dtype == expected_classes.dtype
    np.testing.assert_array_equal(classes, expected_classes)
    np.testing.assert_array_equal(codes, expected_codes.ravel())
    assert codes.dtype == np.intp


def test_validation_passes_use_the_callers_thread_count(monkeypatch):
    """A user's n_threads=1 (e.g. inside their own parallel pipeline) holds for the
    NaN / probability checks too, not only for the kernel."""
    from logreg import _hessian

    seen = []
    for name in ("all_finite", "proba_stats"):
        original = getattr(_hessian, name)
        monkeypatch.setattr(_hessian, name,
                            lambda a, n_threads, f=original: seen.append(n_threads) or f(a, n_threads))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    P = np.full((300, 3), 1.0 / 3.0)
    w = rng.uniform(0.5, 1.5, 300)
    logreg.hessian(X, P, w, n_threads=1)
    model = logreg.LogisticRegression(n_threads=1).fit(X, rng.integers(0, 3, 300), sample_weight=w)
    model.predict(X)
    assert len(seen) >= 5 and set(seen) == {1}, seen


def test_overflowing_hessian_is_an_error_not_inf(problem):
    X, P = problem
    with pytest.raises(ValueError, match="the Hessian overflows float64"):
        logreg.hessian(X * 1e200, P)


@pytest.mark.parametrize("y", [["a", 1] * 10, ["a", 1.5] * 10])
def test_mixed_label_types_in_a_list_are_refused_like_an_object_array(y):
    X = np.random.default_rng(0).standard_normal((20, 2))
    for labels in (y, np.array(y, dtype=object)):
        with pytest.raises(TypeError, match="y mixes label types"):
            logreg.LogisticRegression().fit(X, labels)
