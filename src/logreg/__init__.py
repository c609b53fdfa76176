"""logreg: fast, trustworthy Newton-method logistic regression."""
from . import reference
from ._exceptions import ConvergenceWarning, NotFittedError, PerfectSeparationWarning, SingularHessianWarning
from ._inference import InferenceWarning, SingularInformationWarning
from ._kernel import hessian
from ._model import LogisticRegression
from ._model_selection import LogisticRegressionCV, RegularizationPath, regularization_path

__all__ = [
    "ConvergenceWarning",
    "InferenceWarning",
    "LogisticRegression",
    "LogisticRegressionCV",
    "NotFittedError",
    "PerfectSeparationWarning",
    "RegularizationPath",
    "SingularHessianWarning",
    "SingularInformationWarning",
    "hessian",
    "reference",
    "regularization_path",
]
__version__ = "0.1.0"
