"""logreg: fast, trustworthy Newton-method logistic regression."""
from . import reference
from ._kernel import hessian

__all__ = ["hessian", "reference"]
__version__ = "0.1.0"
