# The single source of dev commands; README and .ci/run call these targets.
#
# One stable cargo target dir outside the clone: every build (pip's, cargo's, CI's)
# shares it, so repeated runs are incremental (a clean build of the bindings takes
# minutes on 2 cores, an edit of one file seconds).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/entroseg/target
PYTHON ?= python

.PHONY: install install-test build wheel wheel-check lint test test-rust test-python bench demo clean-native fuzz fuzz-all test-polars-min lint-polars

## Install the package (builds the Rust extension in release mode).
install:
	$(PYTHON) -m pip install -e .

## Install with the test extras (pytest, hypothesis, ordpy, ruff, mypy).
install-test:
	$(PYTHON) -m pip install -e ".[test]"

## Rebuild the extension in place after editing Rust (needs maturin in the env).
build:
	$(PYTHON) -m pip install --no-build-isolation --no-deps -e .

## One abi3 (CPython >= 3.10) manylinux2014 x86_64 wheel in $(WHEEL_DIR): maturin links
## through zig against glibc 2.17, so the wheel installs on any Linux of the last decade
## whatever this machine's glibc. Same features and ABI as the development install, in
## the same CARGO_TARGET_DIR.
WHEEL_DIR ?= dist
wheel:
	$(PYTHON) -m pip install -q "maturin[zig]>=1.16,<2"
	rm -f $(WHEEL_DIR)/entroseg-*.whl
	$(PYTHON) -m maturin build --release --zig --compatibility manylinux2014 --out $(WHEEL_DIR)

## Install that wheel into a fresh venv with no Rust toolchain on PATH, check its tag
## with auditwheel, run `entroseg demo` and the smoke tests (tests/test_smoke.py) there.
wheel-check:
	PYTHON=$(PYTHON) tools/wheel-check $(WHEEL_DIR)

## Formatting, clippy (core with tests; bindings without the polars feature), ruff,
## stub check against the binary, mypy strict on the Python package. Clippy of the
## bindings uses its own target dir: pyo3's build script depends on environment
## variables that maturin sets and plain cargo does not, so sharing the wheel's target
## dir would rebuild pyo3 and every polars crate above it (~8 min) on each switch.
lint:
	cargo fmt --all --check
	cargo clippy --release -p entroseg-core --all-targets -- -D warnings
	CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)-clippy cargo clippy --release -p entroseg-python -- -D warnings
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy.stubtest entroseg._entroseg
	$(PYTHON) -m mypy

## Clippy over the Polars plugin as well (polars_expr.rs). Check mode in the clippy
## target dir: about 3 min cold for the polars crates, seconds after; kept out of
## `lint` so that the everyday lint stays cheap.
lint-polars:
	CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)-clippy cargo clippy --release -p entroseg-python --features polars -- -D warnings

## Rust unit and property tests of the core, then the Python suite (with doctests).
test: test-rust test-python

test-rust:
	cargo test --release -p entroseg-core

test-python:
	$(PYTHON) -m pytest

## Throughput against peers (ordpy, antropy, pydustmasker, dustmasker) and the kernel-only
## Rust numbers.
bench:
	$(PYTHON) benches/bench_entropy.py
	$(PYTHON) benches/bench_dna.py
	$(PYTHON) benches/bench_reads.py
	$(PYTHON) benches/bench_surfaces.py
	$(PYTHON) benches/bench_segment.py
	$(PYTHON) benches/bench_scale.py
	$(PYTHON) benches/bench_merge.py
	$(PYTHON) benches/bench_change_points.py
	cargo run --release -q -p entroseg-core --example throughput

## The main job on the bundled sample.
demo:
	entroseg demo

## The Polars plugin against the oldest supported Polars (the plugin interface is
## checked only by major version, so the lower bound is tested, not assumed), then the
## newest again. Swaps the polars wheel in this environment; no rebuild.
POLARS_MIN ?= 1.30.0
test-polars-min:
	$(PYTHON) -m pip install -q "polars==$(POLARS_MIN)"
	$(PYTHON) -c "import polars; print('testing against polars', polars.__version__)"
	$(PYTHON) -m pytest -q tests/test_polars.py python/entroseg/polars.py; \
	  status=$$?; $(PYTHON) -m pip install -q -U "polars>=1.30"; exit $$status

## Fuzz every target (fuzz/fuzz_targets: the FASTA/FASTQ reader, the SDUST masker, the
## checkpoint parsers of every streaming class, the segmentation spec parser) for
## FUZZ_SECONDS each (cargo-fuzz, installed if missing), one after the other. Only a
## stable toolchain is assumed: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its sanitizer
## flags. The first run builds the core with ASan (~2 min). Corpora stay in
## fuzz/corpus/ (ignored), so later runs continue; record runs in docs/FUZZING.md.
## `make fuzz` is the quick pass (30 s each), `make fuzz-all FUZZ_SECONDS=600` the record.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS = fastx dust checkpoint spec
fuzz fuzz-all:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)-fuzz cargo fuzz run -O $$t -- \
	    -max_total_time=$(FUZZ_SECONDS) || exit 1; done
