# make demo  - set everything up (Debian packages, .venv, native build) and run the quickstart
# make test  - C++ tests (ctest) and Python tests (pytest, notebooks included), then test-asan
# make test-asan - the same tests against a build with AddressSanitizer + UBSan (build/asan)
# make test-cpp, make test-python - one half, without the sanitizer build
# make test-portable - both suites again with the AVX-512 kernels switched off (their portable loops)
# make test-tsan - the C++ tests and the runtime's Python tests against a ThreadSanitizer build
#              (build/tsan); not in make test: a second sanitizer build does not fit its budget
# make bench - the benchmarks (slow; not part of make test)
# make docs  - the documentation site (docs/site) into build/docs, warnings as errors
# make wheel - a manylinux wheel in dist/ carrying its native libraries (scripts/build_wheel.sh)
# make test-wheel - builds the wheel, installs it into a fresh venv (dependencies from
#              build/wheelhouse) and runs a pipeline and the quickstart there (tests/wheel);
#              not in make test: it takes minutes
# make fuzz  - each fuzz target (tests/fuzz) for FUZZ_SECONDS over its seed corpus; make test
#              runs them for a few seconds each (ctest's fuzz.* cases)
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build/dev
DEB_PACKAGES := librocksdb-dev librdkafka-dev libtbb-dev libsimdjson-dev libgtest-dev \
                ninja-build ccache pkg-config g++ kcat
NATIVE_SOURCES := $(shell find cpp bindings tests/cpp cmake -name '*.cpp' -o -name '*.h' -o -name 'CMakeLists.txt' -o -name '*.cmake') CMakeLists.txt
# ccache keeps its default cache (~/.cache/ccache), shared by every clone on the machine;
# paths below the checkout are hashed relative to it, so a fresh clone reuses the objects.
export CCACHE_BASEDIR := $(CURDIR)

ASAN_BUILD := build/asan
TSAN_BUILD := build/tsan
FUZZ_SECONDS ?= 120
FUZZ_TARGETS := jsonl_decoder csv_decoder iso_timestamp plan_parser
.PHONY: setup demo test test-cpp test-python test-portable test-asan test-tsan bench docs clean fuzz \
        wheel test-wheel
setup: $(BUILD)/.built

build/.debian:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@mkdir -p build && touch $@

$(VENV)/.deps: requirements-dev.txt | build/.debian
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	# the package is used from the source tree (python/), like an editable install
	echo "$(CURDIR)/python" > $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/millstream-dev.pth
	touch $@

$(BUILD)/.built: $(VENV)/.deps build/.debian $(NATIVE_SOURCES)
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE=$(CURDIR)/$(PY)
	cmake --build $(BUILD)
	touch $@

demo: setup
	$(PY) examples/quickstart.py

test-cpp: setup
	ctest --test-dir $(BUILD) --output-on-failure -j2

test-python: setup
	$(PY) -m pytest tests/python

test: test-cpp test-python test-portable test-asan

# The kernels that use AVX-512 on this machine keep portable loops for CPUs without it; the
# switch (expr/kernel_support.cpp) lets both suites run them here too.
test-portable: setup
	MILLSTREAM_DISABLE_AVX512=1 ctest --test-dir $(BUILD) --output-on-failure -j2
	MILLSTREAM_DISABLE_AVX512=1 $(PY) -m pytest tests/python -p no:cacheprovider

# The package's Python files are linked into $(ASAN_BUILD)/python/millstream next to the
# sanitized module, which pytest's own process imports (conftest.py); the quickstart and notebook
# subprocesses import the regular build (there, `import millstream, hmac` with the sanitized
# module jumps to address 0 while loading _hashlib; `import hmac, millstream` works; not yet
# understood). libasan must be loaded before Python's own libraries, libstdc++ with it (else
# ASan cannot intercept exceptions).
test-asan: setup
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMILLSTREAM_SANITIZE=address,undefined \
	  -DMILLSTREAM_MODULE_DIR=$(CURDIR)/$(ASAN_BUILD)/python/millstream -DPython_EXECUTABLE=$(CURDIR)/$(PY)
	cmake --build $(ASAN_BUILD)
	for f in python/millstream/*.py; do ln -sf $(CURDIR)/$$f $(ASAN_BUILD)/python/millstream/; done
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir $(ASAN_BUILD) --output-on-failure -j2
	LD_PRELOAD="$$(g++ -print-file-name=libasan.so) $$(g++ -print-file-name=libstdc++.so)" \
	  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  MILLSTREAM_PYTHON_DIR=$(CURDIR)/$(ASAN_BUILD)/python \
	  $(PY) -m pytest tests/python -p no:cacheprovider

# Findings are written as crash-<target>-* into build/fuzz-findings; each becomes a regression test.
fuzz: setup
	mkdir -p build/fuzz-findings
	cd build/fuzz-findings && for t in $(FUZZ_TARGETS); do \
	  $(CURDIR)/$(BUILD)/tests/fuzz/fuzz_$$t $(CURDIR)/tests/fuzz/corpus/$$t --seconds $(FUZZ_SECONDS) --seed $$RANDOM || exit 1; \
	done

# As test-asan, with -fsanitize=thread. libtsan is preloaded into Python (CPython is not built
# with it) and tests/tsan.supp suppresses races inside the uninstrumented libraries (TBB,
# RocksDB, librdkafka, Arrow, CPython). The fuzz targets and the layer probes are left out (no
# threads); of the Python tests, the runtime's (threads, jobs, keyed exchange).
TSAN_ENV := TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1"
test-tsan: setup
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMILLSTREAM_SANITIZE=thread \
	  -DMILLSTREAM_MODULE_DIR=$(CURDIR)/$(TSAN_BUILD)/python/millstream -DPython_EXECUTABLE=$(CURDIR)/$(PY)
	cmake --build $(TSAN_BUILD)
	for f in python/millstream/*.py; do ln -sf $(CURDIR)/$$f $(TSAN_BUILD)/python/millstream/; done
	$(TSAN_ENV) ctest --test-dir $(TSAN_BUILD) --output-on-failure -j2 -E '^(fuzz|layers)\.'
	LD_PRELOAD="$$(g++ -print-file-name=libtsan.so) $$(g++ -print-file-name=libstdc++.so)" $(TSAN_ENV) \
	  MILLSTREAM_PYTHON_DIR=$(CURDIR)/$(TSAN_BUILD)/python \
	  $(PY) -m pytest tests/python/test_runtime.py tests/python/test_faults.py tests/python/test_reproducible_results.py -p no:cacheprovider

bench: setup
	$(PY) benchmarks/run_all.py

# Its examples are executed by tests/python/test_docs_site.py.
docs: setup
	$(PY) -m sphinx -W -b html docs/site build/docs

wheel: setup
	bash scripts/build_wheel.sh

# The wheels of the wheel's dependencies are downloaded here, so that the test's fresh venv
# installs with --no-index (the test itself reaches no network).
test-wheel: wheel
	$(PY) -m pip download -q -d build/wheelhouse --only-binary=:all: "pyarrow>=26.0,<27" numpy pandas
	$(PY) -m pytest tests/wheel -p no:cacheprovider

clean:
	rm -rf build dist python/millstream/_core*.so
