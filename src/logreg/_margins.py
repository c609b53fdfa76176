"""Marginal effects of the features on every class probability, delta-method errors.

The definitions are statsmodels' ``get_margeff`` (``Logit``, ``MNLogit``):

* ``method``: ``"dydx"`` ``dP_j/dx_a``; ``"eyex"`` ``d ln P_j / d ln x_a``;
  ``"dyex"`` ``dP_j / d ln x_a``; ``"eydx"`` ``d ln P_j / dx_a``.
* ``at``: ``"overall"`` the average of the per-row effects over the rows of
  ``X``; ``"mean"``/``"median"`` the effect at the column means/medians;
  ``"zero"`` at ``x = 0`` (the intercept stays 1).
* ``dummy=True``: a 0/1 column's effect is ``P(x_a = 1) - P(x_a = 0)`` (log
  probabilities for the ``"ey"`` methods); ``count=True``: a column of
  non-negative integers gets ``(P(x_a + 1) - P(x_a - 1)) / 2``.  Neither is
  allowed with ``"eyex"``/``"dyex"`` or ``at="median"/"zero"``, as in
  statsmodels.

Every class has a row, the reference class included (for two classes both
rows are reported: row ``c`` is the effect on ``P(classes_[c])``).

Delta method
------------
With ``B`` the ``(k, p)`` coefficients (reference row zero), ``x`` a row with
its trailing 1, ``G_ja = B_ja - sum_l p_l B_la`` and ``D = diag(p) - p p'``,
each row's effect on ``(j, a)`` has the derivative with respect to ``B_cb``

    x_b U[j, a, c] + [a = b] V[j, a, c]

with, for the continuous methods (``"ex"`` multiplies E, U and V by ``x_a``)

    "dydx":  E = p_j G_ja,  U = D_jc G_ja - p_j p_c G_ca,  V = D_jc
    "eydx":  E = G_ja,      U = -p_c G_ca,               V = [j = c] - p_c

and for a discrete column, from the rows ``x1``/``x0`` it is evaluated at
(``R = D``, or ``[j = c] - p_c`` for the log methods, at each):
dummy ``U = R1 - R0``, ``V = R1 - U x_a``; count ``U = (R+ - R-) / 2``,
``V = (R+ + R-) / 2``.  So the average Jacobian over the rows is one matrix
product ``[X, 1]' U`` plus the column sums of ``V``, accumulated over row
blocks: no ``n x (k d) x (k p)`` Jacobian is ever formed.  The covariance of
the effects is ``J cov J'`` with the columns of the reference class dropped
(``cov`` is that of the non-reference rows, whatever its ``cov_type``).
"""
import numpy as np
from scipy import special

from ._inference import (
    _check_alpha,
    _fmt_num,
    _fmt_p,
    _fmt_z,
    _interval_labels,
    _label,
    checked_X,
    dense_rows,
    row_block_size,
    softmax_derivative,
    z_statistics,
)
from ._loss import softmax
from ._summary_tables import render_html, render_text
from ._validation import check_n_threads, check_sample_weight

__all__ = ["MarginalEffects", "marginal_effects"]

AT = ("overall", "mean", "median", "zero")
METHODS = ("dydx", "eyex", "dyex", "eydx")
# statsmodels' column labels of each method
METHOD_LABELS = {"dydx": "dy/dx", "eyex": "d(lny)/d(lnx)", "dyex": "dy/d(lnx)",
                 "eydx": "d(lny)/dx"}


def marginal_effects(res, X, at="overall", method="dydx", dummy=False, count=False,
                     sample_weight=None):
    """Marginal effects of an :class:`~logreg._inference.InferenceResult`.

    Parameters
    ----------
    res : InferenceResult
        Its ``cov`` (any ``cov_type``) gives the standard errors.
    X : array-like of shape (n_samples, n_features)
        The rows to average over (``at="overall"``) or to take the means,
        medians of; usually the training data.  Validated as every inference
        data pass is.
    at : {"overall", "mean", "median", "zero"}
    method : {"dydx", "eyex", "dyex", "eydx"}
    dummy, count : bool
        Treat 0/1 columns as discrete changes (``dummy``), columns of
        non-negative integers as unit changes (``count``).
    sample_weight : array-like of shape (n_samples,), optional
        Frequency weights of the rows for ``at="overall"`` (a weighted average
        of the row effects) and ``at="mean"`` (weighted column means): integer
        weights give the effects of repeated rows.  Not with ``at="median"``.

    Returns
    -------
    MarginalEffects
    """
    at, method = _check_options(at, method, dummy, count)
    X = checked_X(res.fit_info, X)
    n, d = X.shape
    w = check_sample_weight(sample_weight, n,
                            n_threads=check_n_threads(getattr(res.fit_info, "n_threads", None)))
    if w is not None and at == "median":
        raise ValueError("at='median' does not take sample_weight: use 'overall' or 'mean', or "
                         "pass the rows repeated.")
    if w is not None and not w.sum() > 0:
        raise ValueError("sample_weight is zero for every row: there is nothing to average.")
    B = res.full_params()
    k = B.shape[0]
    dummy_cols, count_cols = _discrete_columns(X, dummy, count)
    if at == "overall":
        blocks = _row_blocks(X, k * k * d, w)
    else:
        blocks = [(_evaluation_row(X, at, w), None)]
    if _moments_apply(k, d, method, len(dummy_cols) + len(count_cols)):
        total = _Moments(B, res.fit_intercept, method)
        for Xb, wb in blocks:
            total.add(Xb, wb)
    else:
        total = _Totals(k, d, B.shape[1])
        for Xb, wb in blocks:
            total.add(Xb, wb, *_block_effects(Xb, B, res.fit_intercept, method, dummy_cols,
                                              count_cols))
    effects, jacobian = total.average()
    # columns of the non-reference classes: derivatives with respect to params
    J = jacobian[:, :, res.other_indices, :].reshape(k * d, -1)
    cov = J @ res.cov @ J.T
    return MarginalEffects(
        effects=effects, cov=0.5 * (cov + cov.T), classes=res.all_classes,
        feature_names=res.feature_names[:d], at=at, method=method,
        dummy_columns=dummy_cols, count_columns=count_cols, cov_type=res.cov_type,
        n_rows=n, model_name="Logit" if k == 2 else "MNLogit",
    )


class _Totals:
    """Running sums of the effects and of the Jacobian pieces over row blocks."""

    def __init__(self, k, d, p):
        self.k, self.d, self.p = k, d, p
        self.effects = np.zeros((k, d))
        self.XU = np.zeros((p, k * d * k))     # sum_n [x_n, 1]_b U_n[j, a, c]
        self.V = np.zeros((k, d, k))
        self.total_weight = 0.0

    def add(self, Xb, wb, E, U, V):
        """A block's rows ``Xb`` with weights ``wb``, effects E and pieces U, V."""
        b = len(Xb)
        U = U.reshape(b, -1)
        self.effects += _weighted_sum(E, wb)
        self.XU[:self.d] += (Xb if wb is None else Xb * wb[:, None]).T @ U
        if self.p > self.d:   # the intercept's column of ones
            self.XU[self.d] += _weighted_sum(U, wb)
        self.V += _weighted_sum(np.broadcast_to(V, (b, self.k, self.d, self.k)), wb)
        self.total_weight += b if wb is None else float(wb.sum())

    def average(self):
        """Mean effects ``(k, d)`` and Jacobian ``(k, d, k, p)`` (effect j, a; coef c, b)."""
        k, d, p = self.k, self.d, self.p
        N = self.total_weight
        J = (self.XU / N).reshape(p, k, d, k).transpose(1, 2, 3, 0).copy()
        a = np.arange(d)
        J[:, a, :, a] += (self.V / N).transpose(1, 0, 2)
        return self.effects / N, J


def _moments_apply(k, d, method, n_discrete):
    """The moment route (below) computes the same numbers with fewer products when
    it applies: continuous "dydx"/"eydx", and k^3 + k^2 + k < k^2 d columns."""
    return method in ("dydx", "eydx") and n_discrete == 0 and k ** 3 + k * k + k < k * k * d


class _Moments:
    """The route for "dydx" and "eydx" without discrete columns: ``G = B - P B``
    is linear in ``P``, so every sum over rows of the Jacobian is a combination
    of the moments ``[x, 1]' P_j``, ``[x, 1]' P_j P_c`` and ``[x, 1]' P_j P_c P_l``
    (and their column sums): ``k + k^2 + k^3`` columns per row instead of
    ``k^2 d``.
    """

    def __init__(self, B, fit_intercept, method):
        self.B, self.fit_intercept, self.method = B, fit_intercept, method
        k, p = B.shape
        self.n = 0
        self.S1, self.S2 = np.zeros(k), np.zeros((k, k))     # sum_n P_j, sum_n P_j P_c
        self.M1 = np.zeros((p, k))
        self.M2 = np.zeros((p, k, k))
        self.M3 = np.zeros((p, k, k, k))

    def add(self, Xb, wb):
        d = Xb.shape[1]
        eta = Xb @ self.B[:, :d].T
        if self.fit_intercept:
            eta += self.B[:, d]
        P = softmax(eta)
        PP = P[:, :, None] * P[:, None, :]
        PPP = (PP[:, :, :, None] * P[:, None, None, :]).reshape(len(P), -1)
        Xw = Xb if wb is None else Xb * wb[:, None]    # weight the narrower operand
        for M, F in ((self.M1, P), (self.M2, PP.reshape(len(P), -1)), (self.M3, PPP)):
            flat = M.reshape(M.shape[0], -1)
            flat[:d] += Xw.T @ F
            if self.fit_intercept:
                flat[d] += _weighted_sum(F, wb)
        self.S1 += _weighted_sum(P, wb)
        self.S2 += _weighted_sum(PP, wb)
        self.n += len(P) if wb is None else float(wb.sum())

    def average(self):
        B, N = self.B, float(self.n)
        k, p = B.shape
        d = p - self.fit_intercept
        Bd = B[:, :d]
        M1, M2, M3 = self.M1 / N, self.M2 / N, self.M3 / N
        s1, s2 = self.S1 / N, self.S2 / N
        eye = np.eye(k)
        if self.method == "dydx":
            effects = Bd * s1[:, None] - s2 @ Bd                          # (j, a)
            # sum_n x_b D_jc G_ja  and  sum_n x_b W_jc G_ca, as (j, a, c, b)
            MD1 = eye[:, :, None] * M1.T[:, None, :] - M2.transpose(1, 2, 0)      # (j, c, b)
            MD2 = (eye[:, :, None, None] * M2.transpose(1, 2, 0)[:, None, :, :]
                   - M3.transpose(1, 2, 3, 0))                                   # (j, c, l, b)
            first = (Bd[:, :, None, None] * MD1[:, None, :, :]
                     - np.einsum("la,jclb->jacb", Bd, MD2))
            second = (Bd.T[None, :, :, None] * M2.transpose(1, 2, 0)[:, None, :, :]
                      - np.einsum("la,jclb->jacb", Bd, M3.transpose(1, 2, 3, 0)))
            J = first - second
            V = eye * s1[:, None] - s2                                         # (j, c)
        else:
            effects = Bd - (s1 @ Bd)[None, :]
            inner = (Bd.T[:, :, None] * M1.T[None, :, :]
                     - np.einsum("la,clb->acb", Bd, M2.transpose(1, 2, 0)))    # (a, c, b)
            J = -np.broadcast_to(inner[None], (k, d, k, p)).copy()
            V = eye - s1[None, :]
        a = np.arange(d)
        J[:, a, :, a] += V[None, :, :]
        return effects, J


def _block_effects(Xb, B, fit_intercept, method, dummy_cols, count_cols):
    """Per-row effects ``E (b, k, d)`` and Jacobian pieces ``U, V (b, k, d, k)``."""
    b, d = Xb.shape
    eta = Xb @ B[:, :d].T
    if fit_intercept:
        eta += B[:, d]
    log_scale = method.startswith("ey")
    P = softmax(eta)
    G = B[None, :, :d] - (P @ B[:, :d])[:, None, :]          # (b, k, d): G[n, j, a]
    Gt = G.transpose(0, 2, 1)[:, None, :, :]                  # (b, 1, d, c): G[n, c, a]
    k = B.shape[0]
    eye = np.eye(k)
    if log_scale:
        E = G.copy()
        U = np.broadcast_to(-P[:, None, None, :] * Gt, (b, k, d, k)).copy()
        R = eye[None] - P[:, None, :]
    else:
        E = P[:, :, None] * G
        R = _dp_deta(P)
        U = R[:, :, None, :] * G[:, :, :, None]
        U -= (P[:, :, None] * P[:, None, :])[:, :, None, :] * Gt
    V = np.broadcast_to(R[:, :, None, :], (b, k, d, k)).copy()
    if method.endswith("ex"):
        xa = Xb[:, None, :]
        E *= xa
        U *= xa[..., None]
        V *= xa[..., None]
    for a in dummy_cols:
        E[:, :, a], U[:, :, a], V[:, :, a] = _discrete_change(
            eta, Xb[:, a], B[:, a], 1.0 - Xb[:, a], -Xb[:, a], log_scale, dummy=True)
    for a in count_cols:
        E[:, :, a], U[:, :, a], V[:, :, a] = _discrete_change(
            eta, Xb[:, a], B[:, a], 1.0, -1.0, log_scale, dummy=False)
    return E, U, V


def _discrete_change(eta, xa, beta_a, up, down, log_scale, dummy):
    """Effect and Jacobian pieces of column ``a`` moved by ``up`` and ``down``.

    ``eta`` are the logits at the rows; moving ``x_a`` by ``t`` adds ``t beta_a``.
    """
    P1 = softmax(eta + np.multiply.outer(up, beta_a))
    P0 = softmax(eta + np.multiply.outer(down, beta_a))
    if log_scale:
        E = np.log(P1) - np.log(P0)
        eye = np.eye(len(beta_a))
        R1, R0 = eye[None] - P1[:, None, :], eye[None] - P0[:, None, :]
    else:
        E = P1 - P0
        R1, R0 = _dp_deta(P1), _dp_deta(P0)
    if dummy:
        U = R1 - R0
        V = R1 - U * xa[:, None, None]
    else:
        E = 0.5 * E
        U = 0.5 * (R1 - R0)
        V = 0.5 * (R1 + R0)
    return E, U, V


def _dp_deta(P):
    return softmax_derivative(P, np.arange(P.shape[1]))


def _row_blocks(X, entries_per_row, w=None):
    """``(rows, weights)`` blocks of a checked ``X`` (weights None: all one)."""
    n = X.shape[0]
    step = row_block_size(n, entries_per_row)
    for start in range(0, n, step):
        stop = min(start + step, n)
        yield dense_rows(X, start, stop), (None if w is None else w[start:stop])


def _weighted_sum(A, w):
    """``sum_n w_n A[n]`` (plain sum when ``w`` is None)."""
    return A.sum(axis=0) if w is None else np.tensordot(w, A, axes=1)


def _evaluation_row(X, at, w=None):
    """The single row of ``at="mean"/"median"/"zero"``, shape ``(1, d)``."""
    d = X.shape[1]
    if at == "zero":
        return np.zeros((1, d))
    if at == "mean":
        total, weight = np.zeros(d), 0.0
        for Xb, wb in _row_blocks(X, d, w):
            total += _weighted_sum(Xb, wb)
            weight += len(Xb) if wb is None else float(wb.sum())
        return (total / weight)[None, :]
    return np.median(dense_rows(X, 0, X.shape[0]), axis=0)[None, :]


def _column_stats(X):
    """Per column: min, max, all integer-valued (one pass over row blocks)."""
    d = X.shape[1]
    lo, hi = np.full(d, np.inf), np.full(d, -np.inf)
    integral = np.ones(d, dtype=bool)
    for Xb, _ in _row_blocks(X, d):
        lo = np.minimum(lo, Xb.min(axis=0))
        hi = np.maximum(hi, Xb.max(axis=0))
        integral &= (Xb % 1.0 == 0).all(axis=0)
    return lo, hi, integral


def _discrete_columns(X, dummy, count):
    """statsmodels' rules: dummies are integer-valued with min 0 and max 1; counts
    are non-negative, integer-valued, not constant and not dummies."""
    none = np.zeros(0, dtype=np.intp)
    if not (dummy or count):
        return none, none
    lo, hi, integral = _column_stats(X)
    is_dummy = (lo == 0) & (hi == 1) & integral
    is_count = integral & (lo >= 0) & (hi > lo) & ~is_dummy
    return (np.flatnonzero(is_dummy) if dummy else none,
            np.flatnonzero(is_count) if count else none)


def _check_options(at, method, dummy, count):
    at_l = at.lower() if isinstance(at, str) else at
    method_l = method.lower() if isinstance(method, str) else method
    if at_l not in AT:
        raise ValueError(f"at must be one of {list(AT)}; got {at!r}.")
    if method_l not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}.")
    for name, flag in (("dummy", dummy), ("count", count)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False; got {flag!r}.")
    if dummy or count:
        which = "dummy=True" if dummy else "count=True"
        if method_l in ("eyex", "dyex"):
            raise ValueError(f"method={method_l!r} is not defined for discrete changes "
                             f"({which}): use 'dydx' or 'eydx'.")
        if at_l in ("median", "zero"):
            raise ValueError(f"at={at_l!r} is not allowed with {which} (as in statsmodels): "
                             "use 'overall' or 'mean'.")
    return at_l, method_l


class MarginalEffects:
    """Marginal effects with delta-method standard errors.

    Attributes
    ----------
    effects, bse, zvalues, pvalues : ndarray of shape (k, d)
        Row ``j``: the effect on the probability of ``classes[j]`` (every
        class, the reference included); column ``a``: feature ``a``.
    cov : ndarray of shape (k d, k d)
        Covariance of ``effects.ravel()`` (class-major).
    classes : ndarray
    feature_names : list of str
    at, method : str
    dummy_columns, count_columns : ndarray of int
        Columns treated as discrete changes.
    cov_type : str
        That of the coefficients' covariance used.
    """

    def __init__(self, *, effects, cov, classes, feature_names, at, method, dummy_columns,
                 count_columns, cov_type, n_rows, model_name):
        self.effects = effects
        self.cov = cov
        self.classes = classes
        self.feature_names = list(feature_names)
        self.at = at
        self.method = method
        self.dummy_columns = dummy_columns
        self.count_columns = count_columns
        self.cov_type = cov_type
        self.n_rows = n_rows
        self.model_name = model_name
        self.bse, self.zvalues, self.pvalues = z_statistics(
            effects, np.diag(cov).reshape(effects.shape))

    def conf_int(self, alpha=0.05):
        """Wald intervals of the effects, shape ``(k, d, 2)`` (lower, upper)."""
        half = special.ndtri(1.0 - _check_alpha(alpha) / 2.0) * self.bse
        return np.stack([self.effects - half, self.effects + half], axis=-1)

    def summary(self, alpha=0.05):
        """Printable table: one block per class (``str()`` text, ``_repr_html_``)."""
        return _MarginsSummary(self, _check_alpha(alpha))

    def __repr__(self):
        return (f"<MarginalEffects: {self.effects.shape[0]} classes x "
                f"{self.effects.shape[1]} features, at={self.at!r}, method={self.method!r}>")


class _MarginsSummary:
    def __init__(self, margins, alpha):
        self.m = margins
        self.alpha = alpha

    def _parts(self):
        m = self.m
        title = f"{m.model_name} Marginal Effects"
        left = [("Method:", m.method), ("At:", m.at), ("Rows of X:", str(m.n_rows))]
        right = [("Covariance type:", m.cov_type), ("Dummy columns:", str(len(m.dummy_columns))),
                 ("Count columns:", str(len(m.count_columns)))]
        lo, hi = _interval_labels(self.alpha)
        headers = [METHOD_LABELS[m.method], "std err", "z", "P>|z|", lo, hi]
        ci = m.conf_int(self.alpha)
        blocks = []
        for j, c in enumerate(m.classes):
            rows = [[f, _fmt_num(m.effects[j, a]), _fmt_num(m.bse[j, a]),
                     _fmt_z(m.zvalues[j, a]), _fmt_p(m.pvalues[j, a]),
                     _fmt_num(ci[j, a, 0]), _fmt_num(ci[j, a, 1])]
                    for a, f in enumerate(m.feature_names)]
            blocks.append((f"P(y = {_label(c)})", rows))
        return title, left, right, headers, blocks, []

    def __str__(self):
        return render_text(*self._parts())

    __repr__ = __str__

    def _repr_html_(self):
        return render_html(*self._parts())
