"""The Newton line search: from an iterate and a step, the accepted next iterate.

The full step is tried first and verified with the statistics pass at
``coef + step`` -- the next iteration's pass, whose loss comes with it -- so a
typical iteration makes ONE pass over the data.  When Armijo fails there, one
``losses_along`` pass from ``coef`` evaluates the ladder ``t = 1/2 .. 1/256``
and the statistics pass is redone at the largest acceptable ``t`` (3 passes
for that step; a second ladder down to ``2**-MAX_HALVINGS`` only when the
first finds nothing).  Near the optimum the loss changes by less than its
rounding error: such a step is accepted, and if it does not decrease the
loss while the decrement is already tiny, the solve is finished.
"""
from typing import NamedTuple

import numpy as np

from ._state import Iterate

EPS = np.finfo(np.float64).eps
# Armijo sufficient-decrease constant (a small fraction of the predicted decrease).
ARMIJO = 1e-4
# Step halvings before the line search gives up (t down to ~1e-12).
MAX_HALVINGS = 40
# Relative loss changes below this are rounding noise (cf. scikit-learn's 16 eps).
LOSS_NOISE = 16 * EPS


class SearchResult(NamedTuple):
    """``iterate``: the accepted point (None: no move); ``step_size``: its ``t``;
    ``failed``: no step size decreased the objective (else, without a move, the
    optimum is reached to rounding)."""

    iterate: Iterate | None
    step_size: float
    failed: bool = False


def _acceptable(iterate, step, f_t, t):
    """Armijo, or a change within rounding noise (the quadratic model is then excellent)."""
    change = f_t - iterate.objective
    noise = LOSS_NOISE * abs(iterate.objective)
    return np.isfinite(f_t) & ((change <= ARMIJO * t * -step.decrement)
                               | (np.abs(change) <= noise))


def line_search(oracle, problem, iterate, step, *, pairs):
    """The next iterate along ``step`` (module docstring).

    ``pairs = (full, shortened)``: whether the statistics pass at the accepted
    point makes the pair products, after the full step and after a shorter one
    (``logreg._policy.CurvaturePolicy.pairs_after``).
    """
    direction = step.direction
    trial = iterate.coef + direction
    stats = oracle.stats(trial, hessian=pairs[0])
    f_1 = problem.objective(stats[0], trial)
    if _acceptable(iterate, step, f_1, 1.0):
        return _move(problem, iterate, step, 1.0, trial, f_1, lambda: stats)
    for ladder in (0.5 ** np.arange(1, 9), 0.5 ** np.arange(9, MAX_HALVINGS + 1)):
        losses = oracle.losses_along(iterate.coef, direction, ladder)
        f = np.array([problem.objective(L, iterate.coef + t * direction)
                      for L, t in zip(losses, ladder)])
        ok = _acceptable(iterate, step, f, ladder)
        if ok.any():
            i = int(np.argmax(ok))
            coef_t = iterate.coef + ladder[i] * direction
            return _move(problem, iterate, step, float(ladder[i]), coef_t, f[i],
                         lambda: oracle.stats(coef_t, hessian=pairs[1]))
    return SearchResult(None, 0.0, failed=True)


def _move(problem, iterate, step, t, coef_t, f_t, stats_at):
    """The accepted step, or no move when rounding limits the solve."""
    if f_t >= iterate.objective and 0.5 * step.decrement <= problem.tol**2:
        return SearchResult(None, 0.0)      # rounding-limited: the optimum is reached
    return SearchResult(Iterate(problem, coef_t, stats_at()), t)
