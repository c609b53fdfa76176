"""The Newton system at zero slopes, solved through its Kronecker structure.

With zero slopes every row has the same class probabilities ``pi``, so the
data Hessian is exactly ``A (x) B``: ``A = diag(pi) - pi pi^T`` (k x k) and
``B = X~^T W X~`` (p x p, ``logreg._oracle.InMemoryOracle.gram``).  The
solver's system adds the L2 term and the shift along the flat directions
(``logreg._state``)::

    H = s A (x) B  +  l2 I_k (x) D  +  sum_a (mu_a / k) 1 1^T (x) e_a e_a^T

with ``D = diag(penalty mask)`` and ``a`` over the free columns.  ``A 1 = 0``,
so in an eigenbasis ``U = [1/sqrt(k), Q]`` of ``A`` the system splits into k
independent p x p blocks

    block_0 = l2 D + sum_a mu_a e_a e_a^T,    block_j = s sigma_j B + l2 D  (j >= 1)

one Cholesky each: O(k p^3 / 3) flops instead of O((k p)^3 / 3) for the dense
system, and O(k^2 p + k p^2) per solve instead of a (k p)^2 triangular pair --
which makes it a cheap preconditioner for the first conjugate-gradient solves
too.
"""
import numpy as np
import scipy.linalg


class KroneckerNewtonSystem:
    """Factorized ``H`` (module docstring); ``solve(r)`` returns ``H^-1 r``.

    Parameters
    ----------
    A : (k, k) softmax curvature shared by every row (binary: (1, 1))
    B : (p, p) Gram matrix ``X~^T W X~``
    scale, l2 : the solver's ``1/S`` and ``1/(C S)`` (0 without penalty)
    penalized_columns : (p,) the penalty mask of one class row
    free : the flat columns (shifted), [] for binary
    pivot_rtol : a block whose Cholesky pivot**2 falls below this times its
        diagonal counts as singular (``logreg._curvature.cholesky``'s test)

    ``mu`` maps each free column to its shift ``mu_a``, the mean over the
    classes of ``H``'s diagonal at that column (as ``logreg._state.Problem.shift_free``).
    Raises ``np.linalg.LinAlgError`` when a block is not positive definite
    (collinear columns): the caller then takes the dense, damped route.
    """

    def __init__(self, A, B, *, scale, l2, penalized_columns, free, pivot_rtol):
        k, p = A.shape[0], B.shape[0]
        D = l2 * np.asarray(penalized_columns, dtype=np.float64)
        self.k, self.p = k, p
        self.mu = {a: float(scale * np.mean(np.diag(A)) * B[a, a] + D[a]) for a in free}
        if free:
            # an orthonormal eigenbasis of A whose first vector is exactly 1/sqrt(k)
            ones = np.full((k, 1), 1.0 / np.sqrt(k))
            Q = scipy.linalg.null_space(ones.T)
            sigma, V = np.linalg.eigh(Q.T @ A @ Q)
            self.U = np.hstack([ones, Q @ V])
            sigma = np.concatenate([[0.0], sigma])
        else:
            sigma, self.U = np.linalg.eigh(A)
        self.blocks = []
        for j in range(k):
            block = scale * max(sigma[j], 0.0) * B + np.diag(D)
            if j == 0 and free:
                block[free, free] += np.array([self.mu[a] for a in free])
            factor = scipy.linalg.cho_factor(block, check_finite=False)
            if not np.all(np.diag(factor[0]) ** 2 > pivot_rtol * np.diag(block)):
                raise np.linalg.LinAlgError("a Kronecker block is numerically singular")
            self.blocks.append(factor)

    def solve(self, r):
        """``H^-1 r`` for ``r`` of shape ``(k p,)`` (class-major)."""
        Y = self.U.T @ r.reshape(self.k, self.p)
        Z = np.stack([cho_solve_vector(f, y) for f, y in zip(self.blocks, Y)])
        return (self.U @ Z).ravel()


# looked up once: get_blas_funcs costs as much as a small triangular solve
_TRSV = {np.dtype(np.float64): scipy.linalg.blas.dtrsv,
         np.dtype(np.float32): scipy.linalg.blas.strsv}


def cho_solve_vector(factor, r):
    """``H^-1 r`` for one vector ``r``, from ``factor = scipy.linalg.cho_factor(H)``.

    Two BLAS triangular solves (trsv), rather than ``scipy.linalg.cho_solve``:
    that goes through LAPACK's potrs, i.e. trsm, a matrix-matrix solve built
    for many right-hand sides and slow for a single vector (a CG
    preconditioner's factor), and for small factors such as the Kronecker
    blocks its argument checks cost more than the solve itself.
    """
    c, lower = factor
    trsv = _TRSV[c.dtype]
    x = np.asarray(r, dtype=c.dtype)
    x = trsv(c, x, lower=lower, trans=0 if lower else 1)     # L y = r  /  R^T y = r
    return trsv(c, x, lower=lower, trans=1 if lower else 0, overwrite_x=1)
