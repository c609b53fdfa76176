"""Warnings and errors that logreg raises.

scikit-learn is not a runtime dependency, yet code around a scikit-learn
pipeline catches scikit-learn's own ``NotFittedError`` and
``DataConversionWarning``.  ``sklearn_compatible`` therefore upgrades one of
our classes, at raise time and only when scikit-learn is already imported, to
a subclass of both ours and scikit-learn's namesake: ``except`` clauses of
either library catch it, and we never import scikit-learn ourselves.
"""
import sys


class ConvergenceWarning(UserWarning):
    """The solver stopped before reaching its tolerance (see the message for why)."""


class PerfectSeparationWarning(ConvergenceWarning):
    """The classes are (quasi-)perfectly separable: the unpenalized optimum is at infinity."""


class SingularHessianWarning(UserWarning):
    """The Hessian was singular or nearly so, and the Newton system was damped."""


class DataConversionWarning(UserWarning):
    """The input was converted (e.g. a column-vector y raveled to 1-D)."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``."""


_compatible = {}


def sklearn_compatible(cls):
    """``cls``, or a subclass of ``cls`` and scikit-learn's class of the same name."""
    skl = sys.modules.get("sklearn.exceptions")
    other = getattr(skl, cls.__name__, None)
    if other is None:
        return cls
    if (cls, other) not in _compatible:
        _compatible[cls, other] = type(cls.__name__, (cls, other), {"__module__": cls.__module__})
    return _compatible[cls, other]
