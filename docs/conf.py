"""Sphinx configuration of the API reference (``python -m sphinx -W -b html docs docs/_build``)."""
import os
import sys

try:        # the installed package (CI), or the in-place build of the src/ layout
    import logreg
except ImportError:
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src")))
    import logreg

project = "logreg"
author = "the logreg developers"
copyright = "2026, the logreg developers"
release = version = logreg.__version__

extensions = ["sphinx.ext.autodoc", "numpydoc"]
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"   # the numpydoc sections carry the types
# every documented function must document its parameters and what it returns
numpydoc_validation_checks = {"PR01", "PR02", "RT01"}
# made by LogisticRegression.inference, not by users: its attributes are documented
numpydoc_validation_exclude = {r"\.InferenceResult$"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
html_theme = "alabaster"
exclude_patterns = ["_build"]
