# Two commands on a fresh machine:
#   make denoise [IN=recording.wav] [OUT=clean.wav]   denoise a file with the shipped model
#   make test                                         run the test suite (and the benchmarks in quick mode)
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; an unpinned install would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: setup denoise test bench bench-quick clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml CMakeLists.txt $(wildcard csrc/*.cpp csrc/*.h csrc/cuda/*.cu csrc/cuda/*.cpp csrc/cuda/*.h)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test,peers,bench,ray]"
	touch $@

denoise: setup
	$(VENV)/bin/vqdsp denoise $(IN) $(if $(OUT),-o $(OUT)) $(if $(FORCE),--force)

test: setup
	$(PY) -m pytest
	$(MAKE) --no-print-directory bench-quick

bench: setup
	$(PY) -m pytest bench/ --benchmark-only

# The benchmarks once each at tiny sizes, no timing (CI: checks they still run; about a minute).
bench-quick: setup
	$(PY) -m pytest bench/ --benchmark-disable -q

clean:
	rm -rf build $(VENV)
