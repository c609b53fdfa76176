"""The state of a Newton solve: what stays fixed, the current iterate, a step.

Three small objects, each with one writer:

* ``Problem``  the constants of a solve (sizes, penalty, normalization, the
               flat directions), made once by the solver's set-up;
* ``Iterate``  a point and the statistics at it (objective, gradient, and the
               pair products when the pass made them), made once per accepted
               point by the loop, never changed after;
* ``Step``     a Newton direction with its decrement and damping, made by the
               curvature source that solved for it (``logreg._curvature``).

The objective, in the layout of ``logreg._loss``::

    F(coef) = (C * sum_n w_n CE_n + 0.5 * ||coef[:, :d]||^2) / (C * S),   S = sum_n w_n

i.e. scikit-learn's objective divided by ``C * S``: the mean weighted
cross-entropy plus ``||coef||^2 / (2 C S)``.  Same minimizer, and a gradient
whose size does not grow with ``n``, so ``tol`` means the same on any data.
Unpenalized (``C = inf``): the mean weighted cross-entropy.

Softmax over-parametrization: adding the same vector to every class's
coefficients leaves the probabilities unchanged, so the data Hessian is
singular along ``N = (1_k (x) I) / sqrt(k)``.  Unpenalized columns are flat
there; penalized ones only have the penalty's curvature ``1/(C S)``, which at
large ``C`` drowns in the rounding of the data Hessian.  Both have their
optimum on the centred subspace ``N^T coef = 0`` (by convention, and because
the penalty is least there while the data term does not change), so a
multinomial solve stays on it: it starts centred, and every curvature source
solves ``(H + N diag(mu) N^T) s = -g`` over every column (``shift_free``).
``H`` maps ``N`` and its complement into themselves and ``g`` is orthogonal
to ``N`` on that subspace, so this is exactly the Newton step within it, from
one factorization, no class dropped and no ``pinv``, for any ``C``.  ``mu_a``,
the mean curvature of column ``a`` over the classes, keeps the conditioning
of H whatever the units of the features.
"""
from dataclasses import dataclass

import numpy as np

from . import _loss

_FLOAT_MAX = np.finfo(np.float64).max
# The largest tol that means something: its square is still a float64.
TOL_MAX = 1e150


class Problem:
    """The constants of one solve.

    Attributes
    ----------
    k, p, binary, fit_intercept : the coefficient layout ``(k, p)``
    C, penalized : inverse penalty strength (``inf``: none)
    tol : gradient tolerance on ``F``; the decrement must reach ``tol**2``
    sum_weights, scale : ``S`` and ``1 / S``
    l2 : ``1 / (C S)`` (0 without penalty)
    mask : ``(k, p)`` 1.0 on penalized coordinates
    free : intp columns of the flat directions: all ``p`` (multinomial) or none (binary)
    """

    def __init__(self, *, k, p, binary, fit_intercept, C, tol, sum_weights):
        self.k, self.p, self.binary = k, p, binary
        self.fit_intercept = bool(fit_intercept)
        self.C, self.penalized = C, bool(np.isfinite(C))
        # tol**2 (the decrement's threshold) must stay finite; past TOL_MAX any
        # tol stops at the start alike
        self.tol = min(tol, TOL_MAX)
        self.sum_weights = check_sum_weights(sum_weights)
        self.scale = 1.0 / self.sum_weights
        with np.errstate(over="ignore"):    # C S past FLOAT_MAX: l2 = 0, no penalty to speak of
            CS = C * self.sum_weights
        if self.penalized and not CS > 1.0 / _FLOAT_MAX:     # else 1 / (C S) overflows
            raise ValueError(
                f"C * sum(sample_weight) = {CS:.3g} is too small: the penalty outweighs "
                "the data by more than float64 can represent (every slope is 0 to working "
                "precision). Use a larger C, or larger sample weights.")
        self.l2 = 1.0 / CS if self.penalized else 0.0
        self.mask = _loss.penalty_mask(k, p, fit_intercept)
        # every multinomial column is (nearly) flat along N: the penalized ones too
        self.free = np.arange(0 if binary else p, dtype=np.intp)

    def objective(self, data_loss, coef):
        if not self.l2:
            return self.scale * data_loss
        return self.scale * data_loss + self.l2 * _loss.l2_penalty(coef, self.fit_intercept)

    def gradient(self, data_gradient, coef):
        return self.scale * data_gradient + self.l2 * self.mask * coef

    def newton_matrix(self, data_hessian):
        """``scale H_data + l2 diag(mask)``, in place."""
        H = data_hessian
        H *= self.scale
        H.flat[::H.shape[0] + 1] += self.l2 * self.mask.ravel()    # the diagonal, no index arrays
        return H

    def shift_free(self, H):
        """``H + N diag(mu) N^T`` over the flat directions (module docstring), in place;
        returns ``(H, mu)``, ``mu`` the shift of each free column (an array)."""
        if not self.free.size:
            return H, np.zeros(0)
        k, p = self.k, self.p
        # mu_a: the mean curvature of column a over the classes, so the shift
        # is as scale-free as H itself (features of any units)
        mu = H.diagonal().reshape(k, p).sum(axis=0) * (1.0 / k)
        # H[(i, a), (j, a)] += mu_a / k for all classes i, j and every column a:
        # a strided view of those entries (H is a fresh C-contiguous array)
        item = H.itemsize
        view = np.ndarray((k, k, p), H.dtype, H, strides=(
            p * k * p * item, p * item, (k * p + 1) * item))
        view += mu * (1.0 / k)
        return H, mu

    def centre(self, step):
        """Remove the component along the flat directions (rounding drift), in place."""
        if self.free.size:      # every column of a multinomial model
            step -= step.sum(axis=0) * (1.0 / self.k)
        return step


class Iterate:
    """A point of the solve and the statistics at it (one oracle pass).

    ``pairs`` is None when the pass skipped the pair products (a Hessian-free
    or approximate-curvature iteration).
    """

    __slots__ = ("coef", "data_loss", "pairs", "objective", "gradient", "grad_max")

    def __init__(self, problem, coef, stats):
        data_loss, data_gradient, self.pairs = stats
        self.coef = coef
        self.data_loss = data_loss
        self.objective = problem.objective(data_loss, coef)
        self.gradient = problem.gradient(data_gradient, coef)
        self.grad_max = float(np.abs(self.gradient).max())


@dataclass
class Step:
    """A Newton direction, from one curvature source.

    ``decrement`` is ``-g . direction`` (twice the predicted decrease);
    ``decrement_error`` bounds how far an inexact solve (CG) falls short of the
    true ``g^T H^-1 g``; ``damping`` the Levenberg-Marquardt factor (0: none);
    ``kind`` names the curvature (the history's ``hessian`` column);
    ``certifies``: its decrement may end the solve (not an approximate Hessian's).
    """

    direction: np.ndarray
    decrement: float
    kind: str
    damping: float = 0.0
    decrement_error: float = 0.0
    certifies: bool = True


def check_sum_weights(S):
    """``S = sum(sample_weight)`` as a float, or a ValueError when the objective cannot
    be normalized by it (the estimator's in-memory unit weights never get here)."""
    S = float(S)
    if not (np.isfinite(S) and S > 0 and 1.0 / S < _FLOAT_MAX):
        raise ValueError(
            f"sum(sample_weight) = {S:.3g} is outside float64's usable range: the "
            "objective cannot be normalized. Only the ratios of the weights matter: "
            "rescale sample_weight (and divide C by the same factor).")
    return S
