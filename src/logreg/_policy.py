"""Which curvature source each Newton iteration uses, and when to look for separation.

``CurvaturePolicy`` is the one place that reads the oracle's capabilities
(``logreg._protocol.OracleCapabilities``) and owns the switching constants:

* **Hessian-free or exact.**  Newton-CG on Hessian-vector products when asked
  for (``solver="newton-cg"``), when the oracle prefers it (the pair products
  cost many products), or when the ``(k p)^2`` Hessian does not fit its
  budget; otherwise Cholesky on the exact Hessian.  A CG solve that fails
  (negative curvature in rounding, no usable preconditioner) hands over to
  exact Newton for good, where the Hessian fits.
* **Kronecker start.**  At zero slopes (the usual start) every row has the
  same probabilities and the Hessian is exactly ``A (x) B``: the first step
  needs only the Gram matrix, no pair products.
* **Subsampled Hessians far from the optimum.**  While half the last Newton
  decrement exceeds ``SUBSAMPLED_DECREMENT`` the exact Hessian buys little
  (the step is damped or overshoots anyway): the next pass skips the pair
  products and the step uses the Hessian of a row subsample.  The last
  iterations, and the convergence test, always use the exact Hessian.
* **Preconditioner refresh.**  CG's preconditioner is rebuilt when a solve
  needed more than ``CG_REFRESH`` iterations (``KRONECKER_CG_REFRESH`` for
  the Kronecker start's system, exact only at zero slopes: it degrades fast).
* **Separation check.**  Unpenalized fits ask the oracle for a
  linear-programming certificate once the Hessian has been damped
  ``SEPARATION_CHECK_DAMPED`` times or after ``SEPARATION_CHECK_ITER``
  Newton steps (a finite optimum takes 5-10): the signs of diverging
  coefficients.  A certificate is a property of the data: one look settles it.

Approximations are used only where the oracle says they can pay
(``capabilities.approximations``): on small data an exact pass costs less
than the Python around an iteration, and approximations only add iterations.
"""
import numpy as np

from . import _preconditioner
from ._curvature import ConjugateGradient, ExactHessian, KroneckerStart, SubsampledHessian

SUBSAMPLED_DECREMENT = 1e-2
CG_REFRESH = 6
KRONECKER_CG_REFRESH = 2
SEPARATION_CHECK_DAMPED = 2
SEPARATION_CHECK_ITER = 15

CURVATURES = ("auto", "newton-cg")


class CurvaturePolicy:
    """Chooses each iteration's curvature source (module docstring).

    Parameters
    ----------
    oracle : the data (``logreg._protocol``)
    coef0 : ``(k, p)`` the starting point (zero slopes allow the Kronecker start)
    curvature : ``"auto"`` (the rules of the module docstring) or ``"newton-cg"``
        (Hessian-free Newton-CG throughout)
    """

    def __init__(self, oracle, coef0, curvature="auto"):
        if curvature not in CURVATURES:
            raise ValueError(f"curvature must be one of {CURVATURES}; got {curvature!r}.")
        caps = oracle.capabilities
        self.oracle, self.caps = oracle, caps
        self.hessian_free = (curvature == "newton-cg" or not caps.exact_hessian
                             or (curvature == "auto" and caps.prefers_hessian_free))
        self.preconditioner_kind = self._preconditioner_kind(oracle.k, oracle.p)
        d = oracle.p - oracle.fit_intercept
        self.kronecker_start = (caps.zero_slope_gram and caps.approximations
                                and not np.any(coef0[:, :d])
                                and not (self.hessian_free
                                         and self.preconditioner_kind == "diagonal"))
        self.subsampling = (not self.hessian_free and caps.approximations
                            and caps.subsample_hessian and caps.subsample_stride > 1)
        self.separation_checked = False

    def _preconditioner_kind(self, k, p):
        """CG's preconditioner: the oracle's own, else the most faithful kind of
        ``logreg._preconditioner`` within its budget that the oracle can build
        (every oracle offers the subsampled Hessian, the class curvature or its own)."""
        caps = self.caps
        if caps.own_preconditioner:
            return "own"
        rows = -(-caps.n_rows // caps.subsample_stride)
        kind = _preconditioner.choose_kind(caps.n_rows, rows, k, p)
        if kind == "dense" and not caps.subsample_hessian:
            kind = "block"
        if kind != "dense" and not caps.class_curvature:
            kind = "dense"
        return kind

    @property
    def pairs_at_start(self):
        """Whether the first statistics pass makes the pair products."""
        return not (self.hessian_free or self.kronecker_start)

    def attach(self, problem):
        """Make the sources for ``problem`` (known after the first pass)."""
        oracle = self.oracle
        self.exact = ExactHessian(oracle, problem)
        self.subsampled = SubsampledHessian(oracle, problem) if self.subsampling else None
        self.cg = ConjugateGradient(oracle, problem, preconditioner_kind=self.preconditioner_kind,
                                    refresh=CG_REFRESH, kronecker_refresh=KRONECKER_CG_REFRESH)
        self.start = (KroneckerStart(oracle, problem, from_subsample=(
                          not self.hessian_free and self.caps.subsample_stride > 1))
                      if self.kronecker_start else None)

    def source(self, iterate):
        """The prepared source for this iterate, or None when CG cannot run here
        (the caller then gives up Hessian-free Newton: ``abandon_hessian_free``)."""
        if self.start is not None:
            source, self.start = self.start, None
            source.prepare(iterate)
            if self.hessian_free and source.system is not None:
                self.cg.use_preconditioner(source.system)   # it steers the next CG solves
            return source
        if iterate.pairs is not None:
            source = self.exact
        elif self.hessian_free:
            source = self.cg
        else:
            source = self.subsampled
        return source if source.prepare(iterate) else None

    def abandon_hessian_free(self):
        """After a failed CG solve: exact Newton from now on; False when the Hessian
        does not fit either (nothing else to try)."""
        if not self.caps.exact_hessian:
            return False
        self.hessian_free = False
        return True

    def pairs_after(self, step):
        """``(full step, shortened step)``: whether the statistics pass at the next
        iterate makes the pair products, after a full step and after a shortened
        one (a far-from-optimum step uses a subsample's Hessian next)."""
        if self.hessian_free:
            return False, False
        subsample = self.subsampling and 0.5 * step.decrement > SUBSAMPLED_DECREMENT
        return not subsample, True

    def check_separation(self, problem, iteration, n_damped):
        """Whether to ask the oracle for a separation certificate now (at most once)."""
        if (problem.penalized or self.separation_checked
                or not self.caps.separation_certificate):
            return False
        if n_damped >= SEPARATION_CHECK_DAMPED or iteration >= SEPARATION_CHECK_ITER:
            self.separation_checked = True
            return True
        return False
