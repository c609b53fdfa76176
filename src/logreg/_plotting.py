"""Forest plot of an inference result's coefficients (matplotlib: the ``plot`` extra).

matplotlib is imported when a plot is drawn, never at ``import logreg``.
"""
import numpy as np

__all__ = ["plot_coefficients"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:   # an optional extra
        raise ImportError(
            "plot() needs matplotlib: pip install 'logreg[plot]' (or pip install matplotlib)."
        ) from exc
    return plt


def plot_coefficients(res, alpha=0.05, *, include_intercept=False, ax=None):
    """One panel per non-reference class: each coefficient with its ``1 - alpha``
    Wald interval (from ``res.cov``, any ``cov_type``), and a line at zero.

    Parameters
    ----------
    res : InferenceResult
    alpha : float
    include_intercept : bool
        Also show the intercept (often on another scale than the slopes).
    ax : matplotlib Axes or a sequence of them, optional
        One per non-reference class; new ones (a row of panels sharing the
        feature axis) when None.

    Returns
    -------
    ndarray of matplotlib Axes, one per non-reference class
    """
    ci = res.conf_int(alpha)                      # validates alpha
    k1, p = res.params.shape
    columns = np.arange(p if include_intercept or not res.fit_intercept else p - 1)
    if columns.size == 0:
        raise ValueError("there are no coefficients to plot: the model has only an intercept "
                         "(pass include_intercept=True).")
    if ax is None:
        plt = _pyplot()
        _, axes = plt.subplots(1, k1, sharey=True, squeeze=False,
                               figsize=(2.0 + 2.6 * k1, 1.0 + 0.35 * columns.size))
        axes = axes[0]
    else:
        axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
        if axes.size != k1:
            raise ValueError(f"ax must hold {k1} Axes (one per non-reference class); got "
                             f"{axes.size}.")
    positions = np.arange(columns.size)
    level = f"{100 * (1 - alpha):g}%"
    for i, panel in enumerate(axes):
        est = res.params[i, columns]
        lo, hi = ci[i, columns, 0], ci[i, columns, 1]
        panel.errorbar(est, positions, xerr=np.vstack([est - lo, hi - est]), fmt="o",
                       capsize=3, color="C0", label=f"coef, {level} interval")
        panel.axvline(0.0, color="0.5", linewidth=1, linestyle="--")
        panel.set_title(f"{res.class_names[i]} vs {res.reference}")
        panel.set_xlabel("coefficient")
    for panel in axes:
        panel.set_yticks(positions)
        panel.set_yticklabels([res.feature_names[a] for a in columns])
        if not panel.yaxis_inverted():
            panel.invert_yaxis()   # first feature on top, as in the summary
    return axes
