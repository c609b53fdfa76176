#!/usr/bin/env bash
# Build the kernel with AddressSanitizer + UndefinedBehaviorSanitizer and run
# the test suite against it (or the pytest arguments given).  Run from the
# repository root inside an environment that has the test extras:
#     bash tools/asan.sh                     # the whole suite
#     bash tools/asan.sh tests/test_kernel.py -x
# The instrumented build lives in a temporary copy of the tree; nothing here
# touches the installed package.  Leak detection is off: CPython itself
# keeps allocations alive until exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/src" "$root/setup.py" "$root/pyproject.toml" "$root/README.md" "$root/tests" "$work/"
cd "$work"
rm -f src/logreg/*.so
for pyx in src/logreg/*.pyx; do rm -f "${pyx%.pyx}.c"; done   # generated C: rebuilt
sanitize="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
CFLAGS="$sanitize -g" LDFLAGS="$sanitize" python setup.py -q build_ext --inplace
libasan=$(${CC:-gcc} -print-file-name=libasan.so)
libubsan=$(${CC:-gcc} -print-file-name=libubsan.so)
export LD_PRELOAD="$libasan $libubsan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONPATH="$work/src"
python -c "import logreg, logreg._hessian as h; print('sanitized kernel:', h.__file__)"
python -m pytest -q -p no:cacheprovider "${@:-tests}"
