"""The model-selection targets of ``python -m logreg bench``: cross-validation on a
warm-started path, and small fits, each against scikit-learn in the same run.

Every ratio comes from interleaved rounds (ours, then each peer, round after
round, so a busy machine slows every side alike); the table gives the median
ratio over the rounds and its range.

* Cross-validation: ``LogisticRegressionCV`` at (2e4, 20, 5), 5 stratified
  folds x 10 Cs in [1e-4, 1e4], neg_log_loss, against scikit-learn's
  ``LogisticRegressionCV`` with lbfgs and newton-cholesky at their default
  tol (1e-4).  Ours runs at the loosest tol of ``TOL_LADDER`` that chooses
  the same C as a tol=1e-12 run with fold scores at least as close to that
  run's as the closer peer's are.
* Small fits: ``LogisticRegression`` on iris, wine and breast_cancer
  (standardized) and a (1000, 10, 3) problem, median time per fit, against
  the fastest of scikit-learn's lbfgs, newton-cholesky and newton-cg; every
  solver at the loosest tol that reaches the optimum (as the whole-fit rows).
"""
import time
import warnings

import numpy as np

from . import _loss
from ._bench import TOL_LADDER, _at_the_optimum, _fit_data, _row

CV_SHAPE, CV_FOLDS, CV_CS, CV_TARGET = (20_000, 20, 5), 5, 10, 10.0
SMALL_FIT_TARGET = 4.0
SMALL_FIT_SYNTHETIC = (1000, 10, 3)
SMALL_FIT_SOLVERS = ("lbfgs", "newton-cholesky", "newton-cg")
CV_SOLVERS = ("lbfgs", "newton-cholesky")


def _quietly(f):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f()


def _rounds(funcs, rounds, batch=1):
    """Seconds per call of each callable, ``(rounds, len(funcs))``: each round runs
    every callable ``batch`` times in turn (after one untimed warm-up call)."""
    times = np.empty((rounds, len(funcs)))
    for r in range(rounds):
        for j, f in enumerate(funcs):
            f()
            t = time.perf_counter()
            for _ in range(batch):
                f()
            times[r, j] = (time.perf_counter() - t) / batch
    return times


def _ratio_summary(times):
    """Median and range over the rounds of (fastest peer / ours); column 0 is ours."""
    ratios = times[:, 1:].min(axis=1) / times[:, 0]
    return float(np.median(ratios)), float(ratios.min()), float(ratios.max())


def small_fit_problems():
    """``{name: (X, y)}``: the bundled data sets (scikit-learn's loaders) and a synthetic
    problem; empty without scikit-learn."""
    try:
        from sklearn import datasets
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        return {}
    problems = {}
    for name in ("iris", "wine", "breast_cancer"):
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        problems[name] = (X if name == "iris" else StandardScaler().fit_transform(X), y)
    problems["synthetic"] = _fit_data(*SMALL_FIT_SYNTHETIC)
    return problems


def penalized_objective(model, X, y, C=1.0):
    """scikit-learn's ``C * sum CE + 0.5 ||coef||^2`` at a fitted model (binary or
    multinomial; ``y`` class codes 0..k-1)."""
    coef = np.column_stack([model.coef_, model.intercept_])
    eta = _loss.linear_predictor(np.asarray(X, dtype=np.float64), coef, True)
    data = (_loss.binary_loss(eta, y, None) if coef.shape[0] == 1
            else _loss.multinomial_loss(eta, y, None))
    return C * data + 0.5 * float(np.sum(model.coef_**2))


def small_fit_rows(*, rounds=15, batch=10):
    from ._model import LogisticRegression

    problems = small_fit_problems()
    what = "Small fit, C=1: median time vs the fastest scikit-learn solver"
    if not problems:
        return [_row(what, SMALL_FIT_SYNTHETIC, "-", "scikit-learn not installed", None,
                     SMALL_FIT_TARGET)]
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    rows = []
    for name, (X, y) in problems.items():
        fit = lambda m: m.fit(X, y)  # noqa: E731
        objective = lambda m: penalized_objective(m, X, y)  # noqa: E731
        f_best = objective(LogisticRegression(tol=1e-13).fit(X, y))
        makers = {"logreg": lambda tol: LogisticRegression(tol=tol)}
        for solver in SMALL_FIT_SOLVERS:
            makers[solver] = lambda tol, solver=solver: SkLogisticRegression(
                solver=solver, tol=tol, max_iter=10_000)
        tols, funcs = {}, []
        for label, make in makers.items():
            tol, _, _ = _quietly(lambda: _at_the_optimum(make, fit, objective, f_best))
            if tol is None:
                continue
            tols[label] = tol
            model = make(tol)
            funcs.append(lambda model=model: _quietly(lambda: model.fit(X, y)))
        labels = list(tols)
        if "logreg" not in tols or len(labels) < 2:
            rows.append(_row(f"{what} ({name})", X.shape, "-", "no optimum reached", None,
                             SMALL_FIT_TARGET))
            continue
        times = _rounds(funcs, rounds, batch)
        median, lo, hi = _ratio_summary(times)
        fastest = 1 + int(np.argmin(np.median(times[:, 1:], axis=0)))
        rows.append(_row(
            f"{what} ({name})", X.shape + (len(np.unique(y)),),
            f"{np.median(times[:, 0]) * 1e3:.2f} ms",
            f"{np.median(times[:, fastest]) * 1e3:.2f} ms {labels[fastest]}", median,
            SMALL_FIT_TARGET,
            f"range {lo:.1f}-{hi:.1f}x over {rounds} rounds; tol: "
            + ", ".join(f"{k} {v:g}" for k, v in tols.items())))
    return rows


def cv_rows(*, rounds=3):
    from ._model_selection import LogisticRegressionCV

    n, d, k = CV_SHAPE
    what = (f"LogisticRegressionCV, {CV_FOLDS} folds x {CV_CS} Cs, vs the faster "
            "scikit-learn LogisticRegressionCV")
    try:
        from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV
    except ImportError:
        return [_row(what, CV_SHAPE, "-", "scikit-learn not installed", None, CV_TARGET)]
    X, y = _fit_data(n, d, k)

    def ours(tol):
        return LogisticRegressionCV(Cs=CV_CS, cv=CV_FOLDS, tol=tol)

    reference = _quietly(lambda: ours(1e-12).fit(X, y))

    def score_error(model):
        return float(np.max(np.abs(model.scores_ / reference.scores_ - 1)))

    peers = [SkLogisticRegressionCV(Cs=CV_CS, cv=CV_FOLDS, solver=solver,
                                    scoring="neg_log_loss", use_legacy_attributes=False,
                                    l1_ratios=(0,)) for solver in CV_SOLVERS]
    peer_errors = [score_error(_quietly(lambda p=p: p.fit(X, y))) for p in peers]
    tol = None
    for candidate in TOL_LADDER:
        model = _quietly(lambda: ours(candidate).fit(X, y))
        if model.C_ == reference.C_ and score_error(model) <= min(peer_errors):
            tol = candidate
            break
    if tol is None:
        return [_row(what, CV_SHAPE, "-", "never as accurate as the peers", None, CV_TARGET)]
    model = ours(tol)
    funcs = [lambda: _quietly(lambda: model.fit(X, y))]
    funcs += [lambda p=p: _quietly(lambda: p.fit(X, y)) for p in peers]
    times = _rounds(funcs, rounds)
    median, lo, hi = _ratio_summary(times)
    peer_medians = np.median(times[:, 1:], axis=0)
    fastest = int(np.argmin(peer_medians))
    return [_row(what, CV_SHAPE, f"{np.median(times[:, 0]):.3f} s",
                 f"{peer_medians[fastest]:.3f} s {CV_SOLVERS[fastest]}", median, CV_TARGET,
                 f"range {lo:.1f}-{hi:.1f}x over {rounds} rounds; logreg tol {tol:g} (fold "
                 f"scores within {score_error(model.fit(X, y)):.1e} of tol=1e-12; peers at "
                 f"tol 1e-4: {', '.join(f'{e:.1e}' for e in peer_errors)})")]


def model_selection_table(*, rounds=None):
    """The rows of both targets (``rounds``: fewer for a quick look)."""
    return cv_rows(rounds=rounds or 3) + small_fit_rows(rounds=rounds or 15)
