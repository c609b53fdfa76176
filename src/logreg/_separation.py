"""A linear-programming certificate of (quasi-)complete separation.

The unpenalized maximum-likelihood estimate is at infinity exactly when some
direction ``B`` (``k x p``, not a multiple of the flat direction) orders
every sample's own class first or tied:

    x_n^T (b_{y_n} - b_j) >= 0     for every sample n and every class j != y_n,

with at least one strict inequality (Albert & Anderson 1984; the binary case
is R's ``detectseparation``, after Konis 2007).  Moving along such a ``B``
never lowers a sample's probability of its own class and raises some, so the
likelihood keeps increasing.  The linear program

    maximize  sum_{n, j != y_n} x_n^T (b_{y_n} - b_j)
    subject to the inequalities above,  -1 <= B <= 1,  b_ref = 0

has optimum 0 unless the data are separable; its solution names the classes
and features involved.  The reference class's row is pinned to zero to
remove the flat direction (adding one vector to every class).

Columns are scaled to unit max-norm first: the feasible set is the same cone,
and the solver's tolerances then mean the same for features of any units.
"""
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse

# The LP's optimum counts as positive above this (per constraint row, in the
# scaled units): HiGHS's feasibility tolerance is 1e-7.
OBJECTIVE_RTOL = 1e-6
# A certificate's margins must all be >= -MARGIN_ATOL (HiGHS's slack)
MARGIN_ATOL = 1e-7
# Certificate entries below this (relative to its largest) count as zero.
ZERO_RTOL = 1e-6


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


def find_separation(X, codes, sample_weight, *, n_classes, fit_intercept):
    """A ``SeparationCertificate`` when the data are (quasi-)separable, else None.

    ``X`` ``(n, d)`` dense float, ``codes`` class indices ``0..n_classes-1``,
    samples of zero weight ignored.  Cost: one LP with ``n (k-1)`` rows and
    ``(k-1) p`` columns -- meant for when a fit already looks separated.
    """
    X = np.asarray(X, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.intp)
    if sample_weight is not None:
        keep = np.asarray(sample_weight) > 0
        X, codes = X[keep], codes[keep]
    n, d = X.shape
    if n == 0:
        return None
    Xt = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    p = Xt.shape[1]
    scale = np.max(np.abs(Xt), axis=0)
    scale[scale == 0] = 1.0
    Xs = Xt / scale
    k = int(n_classes)
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
    # maximize the margins' sum == minimize the sum of the rows of A
    objective = np.asarray(A.sum(axis=0)).ravel()
    result = scipy.optimize.linprog(objective, A_ub=A, b_ub=np.zeros(r),
                                    bounds=[(-1.0, 1.0)] * m, method="highs")
    if result.status != 0 or -result.fun <= OBJECTIVE_RTOL * r:
        return None
    margins = -(A @ result.x)
    if margins.min() < -MARGIN_ATOL:
        return None
    B = np.zeros((k, p))
    B[free] = result.x.reshape(len(free), p) / scale
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
