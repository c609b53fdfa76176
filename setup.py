"""Build the Cython kernels ``logreg._hessian`` (dense) and ``logreg._sparse_kernel``.

* ``-O3``; OpenMP when the compiler supports it, otherwise a serial build
  (``logreg._hessian.openmp_enabled()`` says which one you got).
* ``LOGREG_DEBUG=1`` turns on Cython bounds/wraparound checks and ``-O0 -g``
  for debugging the kernel.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("LOGREG_DEBUG", "0") not in ("", "0")


def _compiler_supports_openmp():
    """Compile and link a tiny OpenMP program with the C compiler setuptools will use."""
    if sys.platform == "win32":
        return True  # MSVC: /openmp is always there
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc.split()[0]) is None:
        return False
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.c")
        with open(path, "w") as f:
            f.write(src)
        result = subprocess.run(
            cc.split() + ["-fopenmp", path, "-o", os.path.join(tmp, "t")],
            capture_output=True,
        )
    return result.returncode == 0


openmp = _compiler_supports_openmp()
if sys.platform == "win32":
    compile_args, link_args = (["/O2", "/openmp"], [])
else:
    compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
    link_args = []
    if openmp:
        compile_args.append("-fopenmp")
        link_args.append("-fopenmp")
if not openmp:
    print("logreg: the C compiler has no OpenMP; building the serial kernel", file=sys.stderr)

extensions = [
    Extension(
        "logreg._hessian",
        ["src/logreg/_hessian.pyx"],
        include_dirs=[np.get_include(), "src/logreg"],
        depends=["src/logreg/_simd.h", "src/logreg/_simd_body.h"],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
    Extension(
        "logreg._sparse_kernel",
        ["src/logreg/_sparse_kernel.pyx"],
        include_dirs=[np.get_include(), "src/logreg"],
        depends=["src/logreg/_sparse_simd.h"],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": DEBUG,
            "wraparound": DEBUG,
            "initializedcheck": DEBUG,
            "cdivision": not DEBUG,
        },
    ),
)
