"""logreg: fast, trustworthy Newton-method logistic regression."""
from . import reference
from ._exceptions import ConvergenceWarning, NotFittedError, PerfectSeparationWarning, SingularHessianWarning
from ._inference import InferenceWarning, SingularInformationWarning
from ._kernel import hessian
from ._model import LogisticRegression

__all__ = [
    "ConvergenceWarning",
    "InferenceWarning",
    "LogisticRegression",
    "NotFittedError",
    "PerfectSeparationWarning",
    "SingularHessianWarning",
    "SingularInformationWarning",
    "hessian",
    "reference",
]
__version__ = "0.1.0"
