# make demo  - set everything up (Debian packages, .venv, native build) and run the quickstart
# make test  - C++ tests (ctest) and Python tests (pytest, notebooks included)
# make bench - the benchmarks (slow; not part of make test)
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

.PHONY: setup demo test test-cpp test-python bench clean
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

test: test-cpp test-python

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build python/millstream/_core*.so
