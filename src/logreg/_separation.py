"""A linear-programming certificate of (quasi-)complete separation.

The unpenalized maximum-likelihood estimate is at infinity exactly when some
direction ``B`` (``k x p``, not a multiple of the flat direction) orders
every sample's own class first or tied:

    x_n^T (b_{y_n} - b_j) >= 0     for every sample n and every class j != y_n,

with at least one strict inequality (Albert & Anderson 1984; the binary case
is R's ``detectseparation``, after Konis 2007).  Moving along such a ``B``
never lowers a sample's probability of its own class and raises some, so the
likelihood keeps increasing.  The linear program

    minimize  ||B||_1
    subject to the inequalities above,  sum_{n, j != y_n} x_n^T (b_{y_n} - b_j) >= 1,
               b_ref = 0

is feasible exactly when the data are separable; the least-L1 solution is
sparse, so it names the few features (and the classes) that separate.  The
reference class's row is pinned to zero to remove the flat direction
(adding one vector to every class).

Columns are scaled to unit max-norm first: the feasible set is the same cone,
and the solver's tolerances then mean the same for features of any units.
"""
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse

# A certificate's margins (their sum is 1) must all be >= -MARGIN_ATOL:
# HiGHS's feasibility tolerance is 1e-7.
MARGIN_ATOL = 1e-7
# Certificate entries below this (relative to its largest) count as zero.
ZERO_RTOL = 1e-6
# LPs past this many rows (samples x rival classes) run on a row subsample
# first (HiGHS takes seconds from about 1e5 rows).
MAX_LP_ROWS = 20_000


@dataclass
class SeparationCertificate:
    """A direction along which the likelihood increases for ever.

    ``direction`` is ``(k, p)`` in the estimator's coefficient layout (binary:
    one row), in the units of the original features.  ``groups`` lists the
    class codes that move together along it (e.g. ``[[0], [1, 2]]``: class 0
    is separated from classes 1 and 2); ``features`` the columns it involves
    (the intercept as column ``d`` when fitted); ``complete`` is True when
    every sample is strictly separated, False for quasi-complete separation.
    """
    direction: np.ndarray
    groups: list
    features: list
    complete: bool


def find_separation(X, codes, sample_weight, *, n_classes, fit_intercept,
                    max_lp_rows=MAX_LP_ROWS):
    """A ``SeparationCertificate`` when the data are (quasi-)separable, else None.

    ``X`` ``(n, d)`` dense float, ``codes`` class indices ``0..n_classes-1``,
    samples of zero weight ignored.  Cost: one LP with ``n (k-1)`` rows and
    ``(k-1) p`` columns -- meant for when a fit already looks separated.
    Past ``max_lp_rows`` LP rows the LP runs on an even row subsample: if that
    is not separable neither are the data; if it is, its certificate is
    checked on every row, and None means "not proven" then.
    """
    X = np.asarray(X, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.intp)
    if sample_weight is not None:
        keep = np.asarray(sample_weight) > 0
        X, codes = X[keep], codes[keep]
    n = X.shape[0]
    k = int(n_classes)
    stride = -(-n * (k - 1) // max_lp_rows)
    if stride <= 1:
        return _certificate(X, codes, k, fit_intercept)
    cert = _certificate(X[::stride], codes[::stride], k, fit_intercept)
    if cert is None:
        return None
    B = cert.direction if k > 2 else np.vstack([np.zeros_like(cert.direction),
                                                 cert.direction])
    margins = own_class_margins(X, codes, B, fit_intercept)
    if margins.min() < -MARGIN_ATOL * np.max(np.abs(margins)):
        return None
    cert.complete = bool(margins.min() > 0)
    return cert


def own_class_margins(X, codes, B, fit_intercept):
    """``x_n^T (b_{y_n} - b_j)`` for every sample n and class j != y_n (flat)."""
    eta = X @ B[:, :X.shape[1]].T
    if fit_intercept:
        eta += B[:, -1]
    own = eta[np.arange(len(codes)), codes]
    gaps = own[:, None] - eta
    rival = np.ones(eta.shape, dtype=bool)
    rival[np.arange(len(codes)), codes] = False
    return gaps[rival]


def _certificate(X, codes, k, fit_intercept):
    """``find_separation`` on all the given rows: one LP."""
    n, d = X.shape
    if n == 0:
        return None
    Xt = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    p = Xt.shape[1]
    scale = np.max(np.abs(Xt), axis=0)
    scale[scale == 0] = 1.0
    Xs = Xt / scale
    present = np.unique(codes)
    if len(present) < 2:
        return None
    ref = int(present[0])
    free = [c for c in range(k) if c != ref]      # classes with LP variables
    m = len(free) * p

    # one row per (sample n, rival class j != y_n):  x_n^T b_j - x_n^T b_{y_n} <= 0
    var_of = np.full(k, -1)
    var_of[free] = np.arange(len(free))
    rows, cols, vals = [], [], []
    r = 0
    for j in range(k):
        idx = np.flatnonzero(codes != j)
        rr = r + np.arange(idx.size)
        r += idx.size
        entries = [(rr, np.full(idx.size, var_of[j]), Xs[idx])]          # + x_n on b_j
        own = var_of[codes[idx]]
        entries.append((rr, own, -Xs[idx]))                               # - x_n on b_{y_n}
        for rows_e, var, values in entries:
            keep = var >= 0                                               # ref's row is 0
            rows.append(np.repeat(rows_e[keep], p))
            cols.append(((var[keep] * p)[:, None] + np.arange(p)).ravel())
            vals.append(values[keep].ravel())
    A = scipy.sparse.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, m))
    # the sparsest direction (least L1 norm, B = u - v) with every margin >= 0 and
    # their sum >= 1: feasible exactly when the data are separable
    total = np.asarray(A.sum(axis=0)).ravel()
    A_ub = scipy.sparse.vstack([scipy.sparse.hstack([A, -A]),
                                scipy.sparse.csr_array(np.concatenate([total, -total])[None, :])])
    b_ub = np.concatenate([np.zeros(r), [-1.0]])
    result = scipy.optimize.linprog(np.ones(2 * m), A_ub=A_ub.tocsr(), b_ub=b_ub,
                                    bounds=(0, None), method="highs")
    if result.status != 0:          # infeasible: not separable
        return None
    x = result.x[:m] - result.x[m:]
    margins = -(A @ x)
    if margins.min() < -MARGIN_ATOL * max(1.0, margins.max()):
        return None
    B = np.zeros((k, p))
    B[free] = x.reshape(len(free), p) / scale
    B -= B.mean(axis=0)      # the symmetric parametrization: no flat component
    big = np.max(np.abs(B))
    if not big > 0:
        return None
    B[np.abs(B) <= ZERO_RTOL * big] = 0.0
    features = np.flatnonzero(np.any(B != 0, axis=0)).tolist()
    complete = bool(margins.min() > MARGIN_ATOL)
    groups = _class_groups(B[present], present)
    if k == 2:
        B = (B[1] - B[0])[None, :]
    return SeparationCertificate(direction=B, groups=groups, features=features,
                                 complete=complete)


def _class_groups(rows, classes):
    """Classes with the same row of the direction move together: the groups
    that the direction pulls apart, ordered by their first class."""
    groups = []
    for row, c in zip(rows, classes.tolist()):
        for g in groups:
            if np.allclose(row, g[0], rtol=0, atol=ZERO_RTOL * np.max(np.abs(rows))):
                g[1].append(c)
                break
        else:
            groups.append((row, [c]))
    return [members for _, members in groups]


def separation_message(cert, classes, feature_names, n_iter):
    """The PerfectSeparationWarning for ``cert``, in the user's labels and names."""
    d = len(feature_names)
    label = lambda c: repr(classes[c].item() if hasattr(classes[c], "item") else classes[c])  # noqa: E731
    groups = [", ".join(label(c) for c in g) for g in cert.groups]
    if len(groups) == 2:
        apart = f"class {groups[0]} from {groups[1]}" if len(cert.groups[0]) == 1 else \
            f"classes {groups[0]} from {groups[1]}"
    else:
        apart = "the class groups " + "; ".join("{" + g + "}" for g in groups)
    names = [("intercept" if a == d else str(feature_names[a])) for a in cert.features]
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    kind = "completely" if cert.complete else "quasi-completely"
    return (
        f"The classes are {kind} separable: a linear-programming certificate separates "
        f"{apart} using {shown}. The unpenalized maximum-likelihood coefficients are "
        f"infinite, so the fit stopped after {n_iter} Newton iterations with finite but "
        "meaningless coefficients (converged_ is False; inference on them is void). "
        "Remedy: use an L2 penalty (penalty='l2', finite C), or remove or merge the "
        "separating features or classes.")
