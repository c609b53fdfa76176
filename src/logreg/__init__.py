"""logreg: fast, trustworthy Newton-method logistic regression."""
from . import reference
from ._exceptions import ConvergenceWarning, NotFittedError, PerfectSeparationWarning, SingularHessianWarning
from ._kernel import hessian
from ._model import LogisticRegression

__all__ = [
    "ConvergenceWarning",
    "LogisticRegression",
    "NotFittedError",
    "PerfectSeparationWarning",
    "SingularHessianWarning",
    "hessian",
    "reference",
]
__version__ = "0.1.0"
