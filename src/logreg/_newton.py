"""Newton's method for (multinomial / binary) logistic regression: the loop.

The pieces, one module each (the README's "How a fit runs" shows them):

* ``logreg._state``       the problem's constants, the iterate, a step; the
                          objective and the centred subspace of the softmax;
* ``logreg._policy``      which curvature source each iteration uses;
* ``logreg._curvature``   the sources: exact, subsampled, Kronecker start, CG;
* ``logreg._line_search`` from a step to the accepted next iterate;
* ``logreg._protocol``    what the data oracles offer (in memory, sparse, Dask).

The loop (``NewtonSolver.solve``), one fixed order of named steps:

1. the iterate   loss, gradient (and pair products) at ``coef``, from one pass;
2. the step      the policy's curvature source solves for it;
3. separation    unpenalized fits that look divergent ask for an LP certificate;
4. convergence   max|gradient| <= tol and half the squared Newton decrement <= tol**2;
5. line search   the accepted next iterate (usually the full step, one pass);
6. finish        symmetric parametrization, diagnostics, warnings.

Stopping happens in step 4, *before* moving: the loss, gradient and Hessian
kept for statistical inference are those at the returned coefficients.  The
loop is the only writer of the iterate and of the fit's record (history,
damped iterations, certificate); nothing of size ``n`` is kept between passes.
"""
import time
import warnings

import numpy as np

from ._exceptions import ConvergenceWarning, PerfectSeparationWarning, SingularHessianWarning
from ._line_search import line_search
from ._policy import CurvaturePolicy
from ._state import Iterate, Problem

# Unpenalized fits: a Newton step still this large (relative to the
# coefficients) at the end means the optimum lies at infinity (separation) ...
SEPARATION_STEP_RTOL = 1e-4
# ... when it is at least this fraction of the step before it (under separation
# Newton's steps keep a constant size; towards a finite optimum they shrink
# quadratically).
SEPARATION_STEP_RATIO = 0.25

HISTORY_FIELDS = ("iteration", "objective", "grad_max", "decrement", "step_size",
                  "damping", "seconds", "passes", "hessian")


class NewtonResult:
    """What a solve returns; see ``NewtonSolver.solve``."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


class NewtonSolver:
    """Minimize ``F`` (``logreg._state``) from ``coef0`` by damped Newton iterations.

    Parameters
    ----------
    oracle : the data (``logreg._protocol``)
    C : inverse penalty strength; ``np.inf`` for no penalty.
    tol : gradient tolerance on ``F``; the Newton decrement must reach ``tol**2``.
    max_iter : maximum number of Newton steps.
    verbose : print one line of diagnostics per iteration when > 0.
    curvature : ``"auto"`` or ``"newton-cg"`` (``logreg._policy``).
    """

    def __init__(self, oracle, *, C, tol, max_iter, verbose=0, curvature="auto"):
        self.oracle = oracle
        self.C, self.tol, self.max_iter = C, tol, max_iter
        self.verbose = verbose
        self.curvature = curvature

    def solve(self, coef0):
        """Run the loop from ``coef0`` ``(k, p)``; returns a ``NewtonResult`` with

        coef, n_iter (Newton steps taken), converged, history (list of dicts
        with ``HISTORY_FIELDS``, and ``route`` when the oracle names one),
        data_hessian (unpenalized fits: the unscaled data-term Hessian at
        ``coef``, None when it is over the oracle's budget; else None),
        data_loss (``sum w CE`` at ``coef``), sum_weights, separation (bool),
        certificate (a ``logreg._separation.SeparationCertificate`` when the
        LP check proved separation, else None), damped (iterations with a
        damped Hessian).
        """
        oracle = self.oracle
        coef = np.array(coef0, dtype=np.float64)
        if coef.shape != (oracle.k, oracle.p):
            raise ValueError(f"coef0 has shape {coef.shape}; the data need "
                             f"{(oracle.k, oracle.p)}.")
        if not oracle.binary:   # the optimum is centred: start there (the data term is unchanged)
            coef -= coef.mean(axis=0)
        policy = CurvaturePolicy(oracle, coef, self.curvature)
        self.t_start = time.perf_counter()
        self.passes_seen = oracle.n_passes
        stats = oracle.stats(coef, hessian=policy.pairs_at_start)
        problem = self.problem = Problem(
            k=oracle.k, p=oracle.p, binary=oracle.binary, fit_intercept=oracle.fit_intercept,
            C=self.C, tol=self.tol, sum_weights=oracle.sum_weights)
        policy.attach(problem)
        iterate = Iterate(problem, coef, stats)
        self.history, self.damped, self.certificate = [], [], None
        line_search_failed = is_converged = False
        step = previous_step = None
        for iteration in range(self.max_iter + 1):
            # passes spent reaching this iterate's statistics (1 when the full step held)
            passes, self.passes_seen = oracle.n_passes - self.passes_seen, oracle.n_passes
            previous_step = step
            step, iterate = self._step(policy, iterate)
            if step.damping:
                self.damped.append(iteration)
            if policy.check_separation(problem, iteration, len(self.damped)):
                self.certificate = oracle.find_separation()
                if self.certificate is not None:
                    self._record(iteration, iterate, step, passes, step_size=0.0)
                    break
            is_converged = step.certifies and _converged(problem, iterate, step)
            stop = is_converged or iteration == self.max_iter
            if not stop:
                found = line_search(oracle, problem, iterate, step,
                                    pairs=policy.pairs_after(step))
                line_search_failed = found.failed
                stop = found.iterate is None
                is_converged = stop and not found.failed
            self._record(iteration, iterate, step, passes,
                         step_size=0.0 if stop else found.step_size)
            if stop:
                break
            iterate = found.iterate
        return self._finish(policy, iterate, step, previous_step, iteration, is_converged,
                            line_search_failed)

    def _step(self, policy, iterate):
        """``(step, iterate)``: the policy's step at ``iterate``; when CG cannot make
        one, exact Newton's, from a statistics pass with the pair products at the
        same point (the iterate returned)."""
        source = policy.source(iterate)
        step = None if source is None else source.solve(iterate)
        if step is None:
            if not policy.abandon_hessian_free():
                raise ValueError(
                    "Hessian-free Newton-CG could not make a descent step, and the "
                    "Hessian of this problem is over the memory budget for exact "
                    "Newton. Standardize the features (e.g. "
                    "sklearn.preprocessing.StandardScaler) or use a finite C.")
            iterate = Iterate(self.problem, iterate.coef, self.oracle.stats(iterate.coef))
            source = policy.source(iterate)
            step = source.solve(iterate)
        return step, iterate

    def _record(self, iteration, iterate, step, passes, step_size):
        row = dict(iteration=iteration, objective=iterate.objective, grad_max=iterate.grad_max,
                   decrement=0.5 * step.decrement, step_size=step_size,
                   damping=step.damping, seconds=time.perf_counter() - self.t_start,
                   passes=passes, hessian=step.kind)
        route = self.oracle.capabilities.route
        if route is not None:
            row["route"] = route
        self.history.append(row)
        if self.verbose:
            if iteration == 0:
                print(f"{'iter':>4} {'objective':>22} {'max|grad|':>10} {'decrement':>10} "
                      f"{'step':>8} {'damping':>8} {'seconds':>8} {'hessian':>9}")
            print(f"{iteration:4d} {iterate.objective:22.15e} {iterate.grad_max:10.3e} "
                  f"{0.5 * step.decrement:10.3e} {step_size:8.2g} {step.damping:8.1g} "
                  f"{row['seconds']:8.3f} {step.kind:>9}", flush=True)

    def _finish(self, policy, iterate, step, previous_step, n_iter, is_converged,
                line_search_failed):
        """Symmetric parametrization, separation, warnings; returns the result."""
        problem = self.problem
        coef = problem.centre(iterate.coef.copy())
        separation = not problem.penalized and (
            self.certificate is not None or self._strictly_separated(iterate)
            or is_converged and _diverging(coef, step, previous_step))
        if self.damped:
            warnings.warn(self._singular_message(n_iter), SingularHessianWarning, stacklevel=4)
        if separation:
            if self.certificate is None:    # else the caller names its classes
                warnings.warn(
                    "The classes are (quasi-)perfectly separable by the features: the unpenalized "
                    "maximum-likelihood coefficients are infinite. logreg stopped with large but "
                    f"finite coefficients after {n_iter} Newton iterations; predicted "
                    "probabilities are (nearly) 0 or 1 and the coefficients, and any inference "
                    "on them, are meaningless. Remedy: use an L2 penalty (penalty='l2', finite C) "
                    "or remove the separating features.",
                    PerfectSeparationWarning, stacklevel=4)
        elif line_search_failed:
            warnings.warn(
                f"The Newton line search could not decrease the objective at iteration "
                f"{n_iter}, before the convergence test held: {_criteria(problem, iterate, step)}. "
                "The objective's rounding error exceeds the decrease left, which points to "
                "badly scaled features. Remedy: standardize the features (e.g. "
                "sklearn.preprocessing.StandardScaler), or accept this precision with a "
                "larger tol.",
                ConvergenceWarning, stacklevel=4)
        elif not is_converged:
            warnings.warn(
                f"Newton's method did not converge in max_iter={self.max_iter} iterations: "
                f"{_criteria(problem, iterate, step)}. Remedy: increase max_iter"
                + ("" if self.max_iter < 20 else
                   "; Newton's method usually needs 5-10, so many more point to badly scaled "
                   "features: standardize them (e.g. sklearn.preprocessing.StandardScaler)")
                + ".", ConvergenceWarning, stacklevel=4)
        return NewtonResult(
            coef=coef, n_iter=n_iter, converged=bool(is_converged and not separation),
            history=self.history, data_loss=iterate.data_loss,
            data_hessian=None if problem.penalized else self._data_hessian(iterate),
            sum_weights=problem.sum_weights,
            separation=bool(separation), certificate=self.certificate,
            damped=list(self.damped))

    def _strictly_separated(self, iterate):
        """Whether the loss proves that the iterate classifies every sample correctly.

        A sample whose true class does not have probability above 1/2 costs
        ``CE >= log 2``, so ``sum w CE < log(2) min w`` (over positive weights)
        means every true class wins, with a positive margin: the data are
        strictly separable and the unpenalized optimum lies at infinity.  The
        margin is a full ``log 2`` per sample, far beyond rounding.  Oracles
        that do not know ``min_positive_weight`` rely on the step test alone.
        """
        w_min = self.oracle.min_positive_weight
        return w_min is not None and iterate.data_loss < np.log(2.0) * w_min

    def _data_hessian(self, iterate):
        """Unscaled, unpenalized data-term Hessian at the iterate (one more statistics
        pass after a Hessian-free solve); None when it is over the oracle's budget."""
        if not self.oracle.capabilities.exact_hessian:
            return None
        pairs = iterate.pairs
        if pairs is None:
            pairs = self.oracle.stats(iterate.coef)[2]
        return self.oracle.hessian(pairs)

    def _singular_message(self, n_iter):
        """SingularHessianWarning's text: the cause that fits the penalty, and its remedy."""
        problem = self.problem
        where = (f"The Hessian was singular or nearly singular at {len(self.damped)} of "
                 f"{n_iter + 1} Newton iterations (first at iteration {self.damped[0]}), "
                 "so the Newton system was damped (Levenberg-Marquardt) to go on. ")
        if not problem.penalized:
            return where + (
                "X has collinear or constant columns, or the classes are (quasi-)separable; "
                "coefficients along collinear directions are not identifiable. Remedy: remove "
                "collinear columns, or use an L2 penalty (penalty='l2', finite C).")
        with np.errstate(over="ignore"):
            CS = problem.C * problem.sum_weights
        return where + (
            f"With the L2 penalty at C * sum(sample_weight) = {CS:.3g}, some direction's "
            "curvature is below the rounding error of the data Hessian: X has (nearly) "
            "collinear columns or features of very different scales, or the classes are "
            "(nearly) separable, and the penalty is too weak to make up for it: along "
            "that direction the objective is nearly flat and the coefficients are poorly "
            "determined. Remedy: standardize the features (e.g. "
            "sklearn.preprocessing.StandardScaler), remove collinear columns, or use a "
            "smaller C.")


def _converged(problem, iterate, step):
    """max|g| <= tol and half the squared Newton decrement <= tol**2.

    The decrement ``g^T H^-1 g`` is affine invariant: it certifies accuracy in
    the coefficients where the gradient alone does not (badly scaled features,
    nearly flat directions).
    """
    decrement = step.decrement + step.decrement_error
    return iterate.grad_max <= problem.tol and 0.5 * decrement <= problem.tol**2


def _diverging(coef, step, previous_step):
    """Converged in gradient and decrement, yet Newton still wants a sizeable step, and
    no smaller than the last one: the objective is flat towards infinity (at a
    finite optimum the steps shrink quadratically, however loose tol is).  The
    step blurs at the loss's noise floor; strict separation is also proved by
    the loss itself (``NewtonSolver._strictly_separated``)."""
    size = np.max(np.abs(step.direction))
    previous = 0.0 if previous_step is None else np.max(np.abs(previous_step.direction))
    return (size > SEPARATION_STEP_RTOL * max(1.0, np.max(np.abs(coef)))
            and size > SEPARATION_STEP_RATIO * previous)


def _criteria(problem, iterate, step):
    """The convergence test at the last iterate, criterion by criterion."""
    half = 0.5 * (step.decrement + step.decrement_error)
    tol, tol2 = problem.tol, problem.tol**2
    g = iterate.grad_max
    return (f"max|gradient| = {g:.3g} {'<=' if g <= tol else '>'} tol = {tol:g} "
            f"({'met' if g <= tol else 'NOT met'}), half the squared "
            f"Newton decrement = {half:.3g} {'<=' if half <= tol2 else '>'} tol**2 = "
            f"{tol2:g} ({'met' if half <= tol2 else 'NOT met'})")


def initial_coef(y, w, k, p, *, binary, fit_intercept):
    """Cheap good start: zero slopes, intercepts at the weighted log class frequencies.

    That is the optimum of the intercept-only model, so the first Newton step
    starts from the right base rates.
    """
    coef = np.zeros((k, p))
    if not fit_intercept:
        return coef
    counts = np.bincount(y, weights=w, minlength=2 if binary else k)
    logf = np.log(np.maximum(counts / counts.sum(), 1e-12))
    if binary:
        coef[0, -1] = logf[1] - logf[0]
    else:
        coef[:, -1] = logf - logf.mean()
    return coef
