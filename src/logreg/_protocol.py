"""What the Newton solver needs from the data: the oracle protocol and its capabilities.

The solver (``logreg._newton``) reads the data only through an *oracle*:
``logreg._oracle.InMemoryOracle`` (dense arrays), the sparse oracles of
``logreg._sparse_oracle`` and ``logreg._dask.DaskNewtonOracle``.  Every oracle
has the required part below; what else it can do it declares in
``capabilities`` (an ``OracleCapabilities``), which is the only thing the
solver's policy (``logreg._policy``) consults to choose a curvature source.
No attribute probing: an oracle that declares a capability has the methods
listed under it.

Required::

    k, p, binary, fit_intercept       coef is (k, p); binary: k = 1
    capabilities                      OracleCapabilities (below)
    stats(coef, *, hessian=True)      -> (loss, grad (k, p), pairs | None)   one pass
    losses_along(coef, direction, steps) -> losses (len(steps),)             one pass
    hessian_vector_product(coef, v)   -> H(coef) v, (k, p)                   one pass
    hessian(pairs)                    -> full data Hessian (class-major)     no pass
    n_passes, pass_log                passes over the data so far
    sum_weights                       S = sum_n w_n (known after the first stats)
    min_positive_weight               the smallest positive w_n, or None when unknown

By capability::

    exact_hessian        stats(hessian=True) returns pairs: the (k p)^2 Hessian fits
    zero_slope_gram      gram(*, subsample=False) -> X~^T W X~ (p, p), the Kronecker
                         factor of the Hessian at zero slopes
    subsample_hessian    subsample_hessian(coef, *, single_precision=False): the data
                         Hessian from every subsample_stride-th row, scaled to S
    class_curvature      class_curvature(coef, *, diagonal_only): per-class diagonal
                         blocks (packed) or the diagonal of the data Hessian
                         (``logreg._preconditioner.class_curvature``'s layout)
    own_preconditioner   cg_preconditioner(coef, *, scale, l2, free) -> M with
                         M.solve(r) and M.mu: CG's preconditioner, for oracles
                         whose Hessian is too large to form
    separation_certificate  find_separation() -> a separation certificate or None

Newton-CG needs a preconditioner: every oracle offers at least one of
``subsample_hessian``, ``class_curvature`` and ``own_preconditioner``.

``loss`` is the unnormalized, unpenalized ``sum_n w_n CE_n``; every array
follows the layout of ``logreg._loss`` (binary: the single positive-class row).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class OracleCapabilities:
    """What an oracle offers beyond the required protocol, and how costly its passes are.

    Attributes
    ----------
    n_rows : int
        Rows of the data (the preconditioners' cost model).
    exact_hessian : bool
        ``stats(hessian=True)`` returns the pair products of the full Hessian;
        False when the ``(k p)^2`` Hessian is over the oracle's memory budget.
    prefers_hessian_free : bool
        Newton-CG on Hessian-vector products is the cheaper route (the pair
        products cost many products, or would not fit).
    approximations : bool
        Hessian approximations can pay: False when one exact pass costs less
        than the Python around a Newton iteration (small data).
    zero_slope_gram, subsample_hessian, class_curvature, own_preconditioner,
    separation_certificate : bool
        The optional methods of the module docstring.
    subsample_stride : int
        ``m``: ``subsample_hessian``, ``class_curvature`` and
        ``gram(subsample=True)`` read every ``m``-th row (1: all rows).
    route : str or None
        A name for the way this oracle forms curvature, recorded in the
        history of a fit (sparse X: ``"full"`` or ``"hessian-free"``).
    """

    n_rows: int
    exact_hessian: bool = True
    prefers_hessian_free: bool = False
    approximations: bool = False
    zero_slope_gram: bool = False
    subsample_hessian: bool = False
    class_curvature: bool = False
    own_preconditioner: bool = False
    separation_certificate: bool = False
    subsample_stride: int = 1
    route: str | None = None
