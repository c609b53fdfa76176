"""``LogisticRegressionCV.plot``: the cross-validation curve and the coefficient paths.

matplotlib is an optional extra (``pip install "logreg[plot]"``), imported
only when a plot is drawn.
"""
import numpy as np

from ._exceptions import NotFittedError, sklearn_compatible


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("LogisticRegressionCV.plot() needs matplotlib: "
                          'pip install "logreg[plot]" (or pip install matplotlib).') from None
    return plt


def plot_cv(cv, ax=None):
    """Left: the mean score over the folds against C (log scale), the range of the
    fold scores shaded, the chosen ``C_`` marked.  Right: the folds' mean
    coefficient of every (class, feature) against C, the intercepts left out.
    Only finite Cs are drawn.  Returns the two axes."""
    if not hasattr(cv, "scores_"):
        raise sklearn_compatible(NotFittedError)(
            "This LogisticRegressionCV instance is not fitted yet: call fit(X, y) before plot().")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    if len(ax) != 2:
        raise ValueError(f"ax must be two matplotlib axes; got {len(ax)}.")
    score_ax, path_ax = ax
    finite = np.isfinite(cv.Cs_)
    Cs = cv.Cs_[finite]
    scores = cv.scores_[:, 0, finite]
    score_ax.plot(Cs, scores.mean(axis=0), marker="o", label="mean over folds")
    score_ax.fill_between(Cs, scores.min(axis=0), scores.max(axis=0), alpha=0.25,
                          label="fold range")
    if np.isfinite(cv.C_):
        score_ax.axvline(cv.C_, color="k", linestyle="--", label=f"C_ = {cv.C_:.3g}")
    score_ax.set(xscale="log", xlabel="C", ylabel=_score_label(cv.scoring),
                 title="Cross-validation score")
    score_ax.legend()

    d = cv.n_features_in_
    paths = cv.coefs_paths_[:, 0][:, finite, :, :d].mean(axis=0)    # (n_Cs, k, d)
    names = getattr(cv, "feature_names_in_", None)
    classes = cv.classes_[1:] if len(cv.classes_) == 2 else cv.classes_
    for i, label in enumerate(classes):
        for a in range(d):
            feature = names[a] if names is not None else f"x{a}"
            path_ax.plot(Cs, paths[:, i, a], label=f"{label}: {feature}")
    if np.isfinite(cv.C_):
        path_ax.axvline(cv.C_, color="k", linestyle="--")
    path_ax.set(xscale="log", xlabel="C", ylabel="coefficient (mean over folds)",
                title="Coefficient paths")
    if paths.shape[1] * d <= 12:
        path_ax.legend(fontsize="small")
    return score_ax, path_ax


def _score_label(scoring):
    if scoring is None:
        return "accuracy"
    return scoring if isinstance(scoring, str) else getattr(scoring, "__name__", "score")
