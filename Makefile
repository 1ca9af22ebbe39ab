# hlsgen -- two commands do all the set-up on a fresh machine:
#   make demo   creates .venv, installs, and runs the main job on the shipped example
#   make test   runs the full test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= out/demo

.PHONY: all install demo test test-fast bench clean distclean

all: test

# One stamp file: re-install only when the package metadata changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# The Xilinx ap_int headers (Apache-2.0) ship inside the hls4ml wheel; only the
	# headers are needed, so skip hls4ml's own (heavy) dependencies.
	$(BIN)/pip install --quiet --no-deps hls4ml==1.3.0
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

bench: $(STAMP)
	$(BIN)/pip install --quiet '.[bench]'
	$(BIN)/python benchmarks/run_all.py
	$(BIN)/python benchmarks/compare_parts.py

clean:
	rm -rf out build .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV)
