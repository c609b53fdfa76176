"""What a user sees of the public API: docstrings, type hints, warnings that
point at the user's line, a summary table that stays readable."""
import inspect
import os
import warnings

import numpy as np
import pytest

import logreg


def test_every_public_name_has_a_numpydoc_docstring():
    for name in logreg.__all__:
        obj = getattr(logreg, name)
        doc = inspect.getdoc(obj)
        assert doc and len(doc.splitlines()) >= 1, name
    public_methods = [m for m, v in vars(logreg.LogisticRegression).items()
                      if callable(v) and not m.startswith("_")]
    assert {"fit", "predict", "inference", "summary"} <= set(public_methods)
    for method in public_methods:
        doc = inspect.getdoc(getattr(logreg.LogisticRegression, method))
        assert "Returns\n-------" in doc, method


def test_help_of_inference_documents_its_parameters():
    doc = inspect.getdoc(logreg.LogisticRegression.inference)
    for section in ("Parameters\n----------", "Returns\n-------", "Raises\n------"):
        assert section in doc
    for param in ("reference", "cov_type", "groups"):
        assert f"\n{param} :" in doc
    assert "logreg._inference" not in doc       # no pointer into a private module


def test_the_package_ships_type_hints():
    assert os.path.exists(os.path.join(os.path.dirname(logreg.__file__), "py.typed"))
    hints = inspect.signature(logreg.LogisticRegression.fit).parameters["X"].annotation
    assert "ArrayLike" in str(hints)
    assert inspect.signature(logreg.hessian).return_annotation != inspect.Signature.empty


def test_the_feature_names_warning_points_at_the_callers_line():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    y = (X[:, 0] > 0).astype(int)
    model = logreg.LogisticRegression().fit(X, y)
    frame = pd.DataFrame(X, columns=["a", "b"])
    for predict in (model.predict, model.predict_proba, model.decision_function):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            predict(frame)
        names = [w for w in caught if "feature names" in str(w.message)]
        assert len(names) == 1 and names[0].filename == __file__, [
            (w.filename, w.lineno) for w in caught]


def test_summary_keeps_long_class_names_apart_from_the_next_column():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 2))
    y = np.array(["setosa", "versicolor", "virginica"])[
        np.argmax(X @ rng.standard_normal((2, 3)) + rng.gumbel(size=(300, 3)), axis=1)]
    text = str(logreg.LogisticRegression(penalty=None).fit(X, y).summary())
    line = next(line for line in text.splitlines() if line.startswith("Classes:"))
    assert "setosa, versicolor, virginica  " in line, line
    right = line.split("virginica", 1)[1]
    assert right.lstrip().startswith("Pseudo R-squ.:"), line
